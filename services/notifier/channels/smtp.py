"""E-mail through aiosmtplib: plain text + HTML, attachments, ``Message-ID`` from the notice id.

SMTP 5xx is permanent; 4xx, timeouts and connection failures are transient.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from uuid import UUID

import aiosmtplib

from schemas.errors import ConfigurationError
from services.notifier.channels import DeliveryError
from services.notifier.model import Rendered
from services.notifier.settings import NotifierSettings
from services.runtime.tls import client_context


def message_id(notice: UUID, mail_from: str) -> str:
    """``<notice-id@sender-domain>``: the same for every attempt, so a repeat can be dropped."""
    return f"<{notice}@{mail_from.rsplit('@', 1)[-1]}>"


def build_message(notice: UUID, kind: str, to: str, rendered: Rendered, *, mail_from: str,
                  now: datetime) -> EmailMessage:
    """The e-mail for one notice. Headers carry only ids and the kind, never content."""
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = to
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(notice, mail_from)
    msg["X-Commande-Notice-Kind"] = kind
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    for att in rendered.attachments:
        maintype, subtype = att.content_type.split("/", 1)
        msg.add_attachment(att.content, maintype=maintype, subtype=subtype, filename=att.filename)
    return msg


class SmtpChannel:
    """Sends e-mails with the SMTP settings (host, port, TLS, authentication).

    TLS is required by default: STARTTLS that the relay must offer (not opportunistic), or TLS
    from the first byte. Without TLS (development only) no credentials are sent.
    """

    def __init__(self, settings: NotifierSettings) -> None:
        self._s = settings
        if settings.smtp_tls == "none" and settings.smtp_username is not None:
            raise ConfigurationError(
                "COMMANDE_SMTP_USERNAME is set but COMMANDE_SMTP_TLS=none: credentials are never "
                "sent in clear; set COMMANDE_SMTP_TLS=starttls (or implicit)")
        self._tls = (client_context(settings, settings.smtp_ca_file, "COMMANDE_SMTP_CA_FILE")
                     if settings.smtp_tls != "none" else None)

    async def send(self, msg: EmailMessage, to: str) -> str:
        """Send ``msg`` to ``to``; returns the Message-ID. Raises :class:`DeliveryError`."""
        s = self._s
        try:
            await aiosmtplib.send(
                msg, sender=s.notifier_mail_from, recipients=[to], hostname=s.smtp_host,
                port=s.smtp_port, start_tls=s.smtp_tls == "starttls",
                use_tls=s.smtp_tls == "implicit", tls_context=self._tls,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                timeout=s.notifier_smtp_timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise DeliveryError(_code(min(codes) if codes else 550),
                                permanent=all(c >= 500 for c in codes)) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(_code(exc.code), permanent=exc.code >= 500) from None
        except aiosmtplib.SMTPTimeoutError:
            raise DeliveryError("smtp_timeout", permanent=False) from None
        except (aiosmtplib.SMTPException, OSError):
            raise DeliveryError("smtp_unavailable", permanent=False) from None
        return str(msg["Message-ID"])


def _code(status: int) -> str:
    return f"smtp_{status // 100}xx" if 400 <= status < 600 else "smtp_error"
