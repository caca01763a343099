"""The local SMTP sink: accepts every message (on 127.0.0.1 unless ``--host``) and keeps it in a
Maildir.

Run by ``commande stack up`` as ``python -m deploy.local.smtp_sink --port P --maildir DIR
--tls-pem PEM``: it offers STARTTLS with the stack's server certificate and refuses mail before
it, as a real relay should. In ``deploy/compose.yaml`` it listens on ``--host 0.0.0.0``, where the
services' container reaches it.
Each stored message gets ``X-Envelope-From`` and ``X-Envelope-To`` headers with the SMTP envelope,
so tests and people can see who it was really delivered to (``commande stack mail``).
"""

from __future__ import annotations

import argparse
import asyncio
import mailbox
import signal
import ssl
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class MaildirHandler:
    """aiosmtpd handler that stores each message, envelope included, in a Maildir."""

    def __init__(self, maildir: Path) -> None:
        self._box = mailbox.Maildir(maildir, create=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content
        msg = message_from_bytes(raw, policy=policy.default)
        msg["X-Envelope-From"] = envelope.mail_from or ""
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self._box.add(msg)
        return "250 Message accepted for delivery"


def read_messages(maildir: Path, since_ns: int = 0) -> list[EmailMessage]:
    """Every message the sink kept (or only those it kept from ``since_ns``, nanoseconds since the
    epoch: a Maildir that tests filled holds tens of thousands), oldest first."""
    if not (maildir / "new").exists():
        return []
    stamped = [(path.stat().st_mtime_ns, path) for path in (maildir / "new").iterdir()]
    files = [path for stamp, path in sorted(stamped, key=lambda sp: (sp[0], sp[1].name))
             if stamp >= since_ns]
    out: list[EmailMessage] = []
    for path in files:
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


def arguments() -> argparse.ArgumentParser:
    """The sink's command line."""
    parser = argparse.ArgumentParser(description="Local SMTP sink that keeps every message.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (0.0.0.0 in a container other containers reach)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, required=True)
    parser.add_argument("--tls-pem", type=Path,
                        help="key and certificate (PEM): offer STARTTLS and require it")
    return parser


def main() -> None:
    """Serve until SIGTERM or SIGINT."""
    args = arguments().parse_args()
    tls: dict[str, Any] = {}
    if args.tls_pem is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(args.tls_pem))
        tls = {"tls_context": context, "require_starttls": True}
    controller = Controller(MaildirHandler(args.maildir), hostname=args.host, port=args.port,
                            data_size_limit=33554432, **tls)
    controller.start()
    print(f"smtp sink listening on {args.host}:{args.port}, keeping mail in {args.maildir}", flush=True)

    async def wait() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    try:
        asyncio.run(wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
