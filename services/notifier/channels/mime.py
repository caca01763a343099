"""The bytes of one notice's e-mail (pure): MIME written directly, not through ``email.message``.

Every notice e-mail has the same shape, so it is written out rather than built as an
:class:`email.message.EmailMessage` and flattened: that cost ~3 ms of CPU per e-mail (header
parsing and refolding on every assignment, then again in the generator), which was most of
notifier's work per referral; writing it costs ~0.2 ms (``bench/RESULTS.md``, "e-mail bytes").
The stdlib still does what needs care: :class:`email.header.Header` encodes and folds the
subject, :func:`binascii.b2a_qp` and :func:`base64.encodebytes` the bodies. Unit tests parse
what this writes with the stdlib parser (``email.policy.default``), as every mail client would.

Shape::

    multipart/mixed
      multipart/alternative
        text/plain; charset=utf-8   (7bit when it is plain ASCII, else quoted-printable)
        text/html; charset=utf-8    (the same)
      <attachment>*                 (base64, Content-Disposition: attachment)

Headers carry only addresses, ids and the kind, never content beyond the subject.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime
from uuid import UUID

from services.notifier.model import Attachment, Rendered

_SAFE = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")
"""A header value written as it is: printable ASCII, single spaces, no CR/LF (no injection)."""
_FILENAME = re.compile(r"[A-Za-z0-9._-]{1,120}")
_CONTENT_TYPE = re.compile(r"[a-z0-9.+-]+/[a-z0-9.+-]+")
_SEVEN_BIT = re.compile(r"[\t\n\x20-\x7e]*")


@dataclass(frozen=True, slots=True)
class Mail:
    """An e-mail ready for SMTP ``DATA``: its Message-ID and its bytes (CRLF line ends)."""

    message_id: str
    data: bytes


def message_id(notice: UUID, mail_from: str) -> str:
    """``<notice-id@sender-domain>``: the same for every attempt, so a repeat can be dropped."""
    return f"<{notice}@{mail_from.rsplit('@', 1)[-1]}>"


def build_message(notice: UUID, kind: str, to: str, rendered: Rendered, *, mail_from: str,
                  now: datetime) -> Mail:
    """The e-mail for one notice.

    Raises:
        ValueError: an address, the kind or an attachment's name or type that cannot be written
            as it is (control characters, non-ASCII): never sent half-encoded.
    """
    mid = message_id(notice, mail_from)
    mixed, alternative = _boundary(), _boundary()
    head = [("From", _safe(mail_from)), ("To", _safe(to)), ("Subject", _subject(rendered.subject)),
            ("Date", format_datetime(now)), ("Message-ID", _safe(mid)),
            ("X-Commande-Notice-Kind", _safe(kind)), ("Auto-Submitted", "auto-generated"),
            ("MIME-Version", "1.0"),
            ("Content-Type", f'multipart/mixed; boundary="{mixed}"')]
    out = [_headers(head), b"\r\n"]
    out += _part(mixed, [("Content-Type", f'multipart/alternative; boundary="{alternative}"')],
                 b"")
    for subtype, text in (("plain", rendered.text), ("html", rendered.html)):
        encoding, body = _text(text)
        out += _part(alternative, [("Content-Type", f'text/{subtype}; charset="utf-8"'),
                                   ("Content-Transfer-Encoding", encoding)], body)
    out.append(f"\r\n--{alternative}--".encode())
    for att in rendered.attachments:
        out += _part(mixed, _attachment_headers(att), _base64(att.content))
    out.append(f"\r\n--{mixed}--\r\n".encode())
    return Mail(mid, b"".join(out))


def _boundary() -> str:
    return "=_" + secrets.token_hex(12)  # "=_" never occurs in quoted-printable or base64


def _safe(value: str) -> str:
    if not _SAFE.fullmatch(value):
        raise ValueError("an e-mail header value must be printable ASCII without line breaks")
    return value


def _subject(subject: str) -> str:
    """The subject, RFC 2047-encoded when it is not plain ASCII, folded either way."""
    flat = " ".join(subject.split())  # no line breaks, whatever the template made
    charset = "us-ascii" if flat.isascii() else "utf-8"
    return Header(flat, charset, header_name="Subject").encode(linesep="\r\n")


def _headers(headers: Sequence[tuple[str, str]]) -> bytes:
    return "".join(f"{name}: {value}\r\n" for name, value in headers).encode("ascii")


def _part(boundary: str, headers: Sequence[tuple[str, str]], body: bytes) -> list[bytes]:
    """A delimiter, the part's headers and body. The CRLF before a delimiter belongs to the
    delimiter (RFC 2046 5.1.1), so each starts with one and a body keeps its own last line end."""
    return [f"\r\n--{boundary}\r\n".encode(), _headers(headers), b"\r\n", body]


def _attachment_headers(att: Attachment) -> list[tuple[str, str]]:
    if not _FILENAME.fullmatch(att.filename) or not _CONTENT_TYPE.fullmatch(att.content_type):
        raise ValueError("an attachment's name and type must be plain ASCII tokens")
    return [("Content-Type", att.content_type), ("Content-Transfer-Encoding", "base64"),
            ("Content-Disposition", f'attachment; filename="{att.filename}"')]


def _text(text: str) -> tuple[str, bytes]:
    """A text body and its transfer encoding: as it is (``7bit``) when it is ASCII without
    control characters and no line is longer than SMTP allows, quoted-printable otherwise."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    if _SEVEN_BIT.fullmatch(lines) and all(len(line) <= 998 for line in lines.split("\n")):
        return "7bit", _crlf(lines.encode("ascii"))
    return "quoted-printable", _crlf(binascii.b2a_qp(lines.encode(), istext=True))


def _base64(content: bytes) -> bytes:
    return _crlf(base64.encodebytes(content))


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")
