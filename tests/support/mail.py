"""The local SMTP sink's mail, as tests read it: only what was kept since this test session
began, each file parsed once.

A shared stack's Maildir holds every benchmark's and earlier run's e-mails (tens of thousands);
parsing them all on every poll made a test take minutes. Mail of this session is newer than
:data:`SESSION_START_NS` (the sink stamps each file when it keeps it, by the same clock), and a
kept file never changes, so its parse is kept too.
"""

from __future__ import annotations

import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

SESSION_START_NS = time.time_ns()
"""When this test session imported this module, before any test sent mail."""

_PARSED: dict[Path, tuple[tuple[int, str], EmailMessage] | None] = {}
"""Each file looked at: its (kept at, name) and message, or ``None`` when kept before the session."""


def session_mail(mail_dir: Path, to: str | None = None) -> list[EmailMessage]:
    """The messages the sink kept in ``mail_dir`` since this test session began, oldest first;
    with ``to``, only those whose envelope recipient contains it (``+<run>@``: one run's)."""
    new = mail_dir / "new"
    for path in new.iterdir() if new.exists() else ():
        if path not in _PARSED:
            stamp = path.stat().st_mtime_ns
            msg = message_from_bytes(path.read_bytes(), policy=policy.default) \
                if stamp >= SESSION_START_NS else None
            assert msg is None or isinstance(msg, EmailMessage)
            _PARSED[path] = None if msg is None else ((stamp, path.name), msg)
    kept = sorted((found for path, found in _PARSED.items()
                   if found is not None and path.parent == new), key=lambda f: f[0])
    return [msg for _, msg in kept if to is None or to in str(msg["X-Envelope-To"])]
