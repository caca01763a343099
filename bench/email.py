"""Benchmark: the bytes of one notice e-mail (``services.notifier.channels.mime``), pure CPU.

Run: ``.venv/bin/python -m bench.email [--repeat N] [--record]`` (no stack needed).

Three notice shapes of the sizes notifier sends: a referral's answer (a short text), an agenda of
40 situations (a long text and table), a sealed disclosure (an attachment). The baseline of the
same run builds the same e-mail the way notifier did before: an :class:`email.message.EmailMessage`
(the modern policy), flattened as aiosmtplib's ``send_message`` does. Figures: microseconds per
e-mail, the median of 3 timings, each the best of ``--repeat`` loops; the ratio new / baseline.
"""

from __future__ import annotations

import argparse
import statistics
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from functools import partial
from uuid import UUID

from aiosmtplib.email import flatten_message

from bench.common import per_call_us, record
from services.notifier.channels.mime import build_message, message_id
from services.notifier.model import Attachment, Rendered

NOTICE = UUID("0194a1b2-0000-7000-8000-000000000001")
MAIL_FROM = "commande-notices@halton-police.example.org"
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
ROW = ("Situation 0194a1b2-0000-7000-8000-0000000000{n:02d}: family, Milton; risk factors: "
       "housing, mental health; invited: housing-services (lead), public-health.\n")


def shapes() -> list[tuple[str, Rendered]]:
    """(name, rendered notice) for each shape."""
    agenda_text = "Ad-hoc meeting, district 1, 2026-12-02 16:30 (revision 2)\n\n" + "".join(
        ROW.format(n=n) for n in range(40))
    agenda_html = "<table>" + "".join(f"<tr><td>{ROW.format(n=n)}</td></tr>"
                                      for n in range(40)) + "</table>"
    return [
        ("referral answer", Rendered(
            "COMMANDE: referral H-2026-0412 accepted (district 1)",
            "Your referral H-2026-0412 was accepted; situation 0194a1b2 is on the table.\n",
            "<p>Your referral <b>H-2026-0412</b> was accepted.</p>", {})),
        ("agenda, 40 situations", Rendered(
            "COMMANDE agenda: ad-hoc meeting — district 1, 2026-12-02 16:30", agenda_text,
            agenda_html, {})),
        ("sealed disclosure", Rendered(
            "COMMANDE sealed disclosure: situation 0194a1b2-0000-7000-8000-000000000001",
            "The sealed package is attached.\n", "<p>The sealed package is attached.</p>", {},
            (Attachment("disclosure-1.json", "application/json", b"{\"sealed\": \"" +
                        b"A" * 3000 + b"\"}"),))),
    ]


def baseline(rendered: Rendered) -> bytes:
    """The e-mail as notifier built it before (EmailMessage, then aiosmtplib's flatten)."""
    msg = EmailMessage()
    msg["From"] = MAIL_FROM
    msg["To"] = "chair@example.org"
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(NOW)
    msg["Message-ID"] = message_id(NOTICE, MAIL_FROM)
    msg["X-Commande-Notice-Kind"] = "agenda"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    for att in rendered.attachments:
        maintype, subtype = att.content_type.split("/", 1)
        msg.add_attachment(att.content, maintype=maintype, subtype=subtype, filename=att.filename)
    return flatten_message(msg)


def written(rendered: Rendered) -> bytes:
    return build_message(NOTICE, "agenda", "chair@example.org", rendered, mail_from=MAIL_FROM,
                         now=NOW).data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="loops per timing (best kept)")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    lines = ["| notice | bytes written | written, us | EmailMessage + flatten, us | ratio |",
             "|---|---|---|---|---|"]
    ratios = []
    for name, rendered in shapes():
        new = per_call_us(partial(written, rendered), number=100, repeat=args.repeat)
        old = per_call_us(partial(baseline, rendered), number=100, repeat=args.repeat)
        ratios.append(new / old)
        lines.append(f"| {name} | {len(written(rendered)):,} | {new:,.0f} | {old:,.0f} | "
                     f"{new / old:.2f} |")
    lines.append(f"- median ratio written / EmailMessage: **{statistics.median(ratios):.2f}**")
    print("\n".join(lines))
    if args.record:
        record("Notifier's e-mail bytes: written directly against EmailMessage (issue 18 item 3)",
               "One notice e-mail per shape, built as notifier now does and as it did before "
               "(the same content, in the same run; medians of 3).",
               f"python -m bench.email --repeat {args.repeat} --record", lines)


if __name__ == "__main__":
    main()
