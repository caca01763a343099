"""E-mail through aiosmtplib: the bytes :mod:`services.notifier.channels.mime` wrote, sent as they are.

SMTP 5xx is permanent; 4xx, timeouts and connection failures are transient.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiosmtplib

from schemas.errors import ConfigurationError
from services.notifier.channels import DeliveryError
from services.notifier.channels.mime import Mail
from services.notifier.settings import NotifierSettings
from services.runtime.tls import client_context


class SmtpChannel:
    """Sends e-mails with the SMTP settings (host, port, TLS, authentication).

    TLS is required by default: STARTTLS that the relay must offer (not opportunistic), or TLS
    from the first byte. Without TLS (development only) no credentials are sent.

    Connections are kept open and reused, at most ``COMMANDE_NOTIFIER_SMTP_CONNECTIONS`` at a
    time, each for at most ``COMMANDE_NOTIFIER_SMTP_IDLE_SECONDS`` without use: a connection,
    its STARTTLS handshake and its login cost far more than the message (they were ~90% of
    notifier's time per e-mail). A relay may close an idle connection whenever it likes, so a
    send that finds its reused connection gone tries once more on a fresh one.
    """

    def __init__(self, settings: NotifierSettings) -> None:
        self._s = settings
        if settings.smtp_tls == "none" and settings.smtp_username is not None:
            raise ConfigurationError(
                "COMMANDE_SMTP_USERNAME is set but COMMANDE_SMTP_TLS=none: credentials are never "
                "sent in clear; set COMMANDE_SMTP_TLS=starttls (or implicit)")
        self._tls = (client_context(settings, settings.smtp_ca_file, "COMMANDE_SMTP_CA_FILE")
                     if settings.smtp_tls != "none" else None)
        self._slots = asyncio.Semaphore(settings.notifier_smtp_connections)
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []

    async def send(self, mail: Mail, to: str) -> str:
        """Send ``mail`` to ``to``; returns its Message-ID. Raises :class:`DeliveryError`."""
        async with self._slots:
            client = self._reuse()
            try:
                if client is not None:
                    try:
                        await self._transact(client, mail, to)
                    except aiosmtplib.SMTPServerDisconnected:
                        client.close()
                        client = None
                if client is None:
                    client = await self._connect()
                    await self._transact(client, mail, to)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                self._keep(client)
                codes = [r.code for r in exc.recipients]
                raise DeliveryError(_code(min(codes) if codes else 550),
                                    permanent=all(c >= 500 for c in codes)) from None
            except aiosmtplib.SMTPResponseException as exc:
                self._keep(client)
                raise DeliveryError(_code(exc.code), permanent=exc.code >= 500) from None
            except aiosmtplib.SMTPTimeoutError:
                _discard(client)
                raise DeliveryError("smtp_timeout", permanent=False) from None
            except (aiosmtplib.SMTPException, OSError):
                _discard(client)
                raise DeliveryError("smtp_unavailable", permanent=False) from None
            self._keep(client)
        return mail.message_id

    async def close(self) -> None:
        """Say goodbye on every idle connection (the delivery loop's end)."""
        idle, self._idle = self._idle, []
        for client, _ in idle:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit(timeout=2.0)
            client.close()

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self._s
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host, port=s.smtp_port, start_tls=s.smtp_tls == "starttls",
            use_tls=s.smtp_tls == "implicit", tls_context=self._tls, username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            timeout=s.notifier_smtp_timeout)
        try:
            await client.connect()
        except BaseException:
            client.close()
            raise
        return client

    async def _transact(self, client: aiosmtplib.SMTP, mail: Mail, to: str) -> None:
        await client.sendmail(self._s.notifier_mail_from, [to], mail.data,
                              timeout=self._s.notifier_smtp_timeout)

    def _reuse(self) -> aiosmtplib.SMTP | None:
        """The most recently used idle connection; older ones past the idle limit are closed."""
        horizon = time.monotonic() - self._s.notifier_smtp_idle_seconds
        while self._idle:
            client, used = self._idle.pop()
            if used >= horizon and client.is_connected:
                return client
            client.close()
        return None

    def _keep(self, client: aiosmtplib.SMTP | None) -> None:
        """Back to the idle connections, if the relay answered and it is still open."""
        if client is not None and client.is_connected:
            self._idle.append((client, time.monotonic()))


def _discard(client: aiosmtplib.SMTP | None) -> None:
    if client is not None:
        client.close()


def _code(status: int) -> str:
    return f"smtp_{status // 100}xx" if 400 <= status < 600 else "smtp_error"
