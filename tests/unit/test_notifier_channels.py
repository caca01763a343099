"""Notifier channels, the pure parts: status classification, signatures, the e-mail's shape."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from services.notifier.channels.mime import Mail, build_message, message_id
from services.notifier.channels.webhook import classify, encode, signature
from services.notifier.model import Attachment, Rendered, notice_id
from tests.support.samples import EVENT_ID, NOW

pytestmark = pytest.mark.unit

NOTICE = notice_id(EVENT_ID, "housing-services/disclosures/x@example.org", "disclosure")


@pytest.mark.parametrize(("status", "code", "permanent"), [
    (200, None, None), (202, None, None), (204, None, None),
    (301, "webhook_3xx", True), (400, "webhook_4xx", True), (401, "webhook_4xx", True),
    (404, "webhook_4xx", True), (410, "webhook_4xx", True),
    (408, "webhook_4xx", False), (429, "webhook_4xx", False),
    (500, "webhook_5xx", False), (502, "webhook_5xx", False), (503, "webhook_5xx", False),
])
def test_http_status_classification(status: int, code: str | None, permanent: bool | None) -> None:
    error = classify(status)
    if code is None:
        assert error is None
    else:
        assert error is not None
        assert (error.code, error.permanent) == (code, permanent)


def test_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    body = encode({"b": 1, "a": "x"})
    assert body == b'{"a":"x","b":1}'
    header = signature(b"secret", 1767621600, body)
    expected = hmac.new(b"secret", b"1767621600." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1767621600,v1={expected}"
    assert signature(b"secret", 1767621601, body) != header
    assert signature(b"other", 1767621600, body) != header


def parsed(mail: Mail) -> EmailMessage:
    """The e-mail as a mail client reads it (the stdlib parser, the modern policy)."""
    msg = message_from_bytes(mail.data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert not msg.defects
    return msg


def test_email_has_both_parts_the_attachment_and_only_safe_headers() -> None:
    rendered = Rendered(
        subject="COMMANDE sealed disclosure: situation 0194a1b2-0000-7000-8000-000000000001",
        text="plain body", html="<p>html body</p>", body={},
        attachments=(Attachment("disclosure-1.sealed", "application/octet-stream", b"\x00\x01"),))
    mail = build_message(NOTICE, "disclosure", "privacy@example.org", rendered,
                         mail_from="notices@halton-police.example.org", now=NOW)
    msg = parsed(mail)
    assert mail.message_id == msg["Message-ID"]
    assert msg["Message-ID"] == f"<{NOTICE}@halton-police.example.org>"
    assert msg["Message-ID"] == message_id(NOTICE, "notices@halton-police.example.org")
    assert msg["To"] == "privacy@example.org"
    assert msg["X-Commande-Notice-Kind"] == "disclosure"
    assert {k.lower() for k in msg} == {
        "from", "to", "subject", "date", "message-id", "x-commande-notice-kind",
        "auto-submitted", "content-type", "mime-version"}
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content().strip() == "plain body"
    assert html.get_content().strip() == "<p>html body</p>"
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "disclosure-1.sealed"
    assert att.get_payload(decode=True) == b"\x00\x01"


def test_message_id_is_the_same_for_every_attempt() -> None:
    a = build_message(NOTICE, "escalation", "x@example.org",
                      Rendered("s", "t", "<p>h</p>", {}), mail_from="n@example.org", now=NOW)
    b = build_message(NOTICE, "escalation", "x@example.org",
                      Rendered("s", "t", "<p>h</p>", {}), mail_from="n@example.org",
                      now=NOW + timedelta(minutes=5))
    assert a.message_id == b.message_id == parsed(a)["Message-ID"] == parsed(b)["Message-ID"]


def test_email_survives_any_subject_and_body_and_every_line_fits_smtp() -> None:
    text = "Résumé: l'agence « Maison » répond.\n" + "x" * 2000 + "\n.\nFrom here\r\nend=\t \n"
    html = "<p>Crise — 24 h</p>" + "<td>ligne</td>" * 300
    subject = "COMMANDE ordre du jour: réunion ad hoc, district 1 — révision 2 " + "long " * 30
    mail = build_message(NOTICE, "agenda", "chair@example.org",
                         Rendered(subject + "\nBcc: x@example.org", text, html, {}),
                         mail_from="notices@example.org", now=NOW)
    msg = parsed(mail)
    assert msg["Subject"] == " ".join((subject + " Bcc: x@example.org").split())
    assert msg["Bcc"] is None  # a line break in a subject never becomes a header
    plain = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    assert plain is not None
    assert html_part is not None
    assert plain.get_content().replace("\r\n", "\n") == text.replace("\r\n", "\n")
    assert html_part.get_content() == html
    assert mail.data.isascii()
    assert max(len(line) for line in mail.data.split(b"\r\n")) <= 78
    assert b"\n" not in mail.data.replace(b"\r\n", b"")  # CRLF only


@pytest.mark.parametrize("field", ["to", "kind", "filename", "content_type"])
def test_what_cannot_be_written_as_it_is_is_refused(field: str) -> None:
    values = {"to": "x@example.org", "kind": "agenda", "filename": "a.json",
              "content_type": "application/json"}
    values[field] = {"to": "x@example.org\r\nBcc: y@example.org", "kind": "agenda\n",
                     "filename": 'a".json', "content_type": "text/plain; x=1"}[field]
    rendered = Rendered("s", "t", "<p>h</p>", {}, attachments=(
        Attachment(values["filename"], values["content_type"], b"{}"),))
    with pytest.raises(ValueError, match=r"e-mail header|attachment"):
        build_message(NOTICE, values["kind"], values["to"], rendered,
                      mail_from="n@example.org", now=NOW)


def test_plain_ascii_bodies_are_written_as_they_are_and_others_quoted_printable() -> None:
    mail = build_message(NOTICE, "agenda", "x@example.org",
                         Rendered("s", "Situation 0194a1b2 at 14:30.\n", "<p>Café</p>", {}),
                         mail_from="n@example.org", now=NOW)
    plain, html = (part for part in parsed(mail).walk() if part.get_content_maintype() == "text")
    assert plain["Content-Transfer-Encoding"] == "7bit"
    assert b"\r\nSituation 0194a1b2 at 14:30.\r\n" in mail.data  # readable in a raw Maildir
    assert html["Content-Transfer-Encoding"] == "quoted-printable"
    assert html.get_content() == "<p>Café</p>"
