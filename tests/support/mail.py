"""The local SMTP sink's mail, as tests read it: only what was kept since this test session began.

A shared stack's Maildir holds every benchmark's and earlier run's e-mails (tens of thousands);
parsing them all on every poll made a test take minutes. Mail of this session is newer than
:data:`SESSION_START_NS` (the sink stamps each file when it keeps it, by the same clock).
"""

from __future__ import annotations

import time
from email.message import EmailMessage
from pathlib import Path

from deploy.local.smtp_sink import read_messages

SESSION_START_NS = time.time_ns()
"""When this test session imported this module, before any test sent mail."""


def session_mail(mail_dir: Path) -> list[EmailMessage]:
    """The messages the sink kept in ``mail_dir`` since this test session began, oldest first."""
    return read_messages(mail_dir, since_ns=SESSION_START_NS)
