"""docs/architecture.md's topic table is the registry's and the ACL table's, not a memory of them."""

from __future__ import annotations

import re

import pytest

from schemas.access import PARTNER_PREFIX, SERVICES
from schemas.topics import DLQ, REFERRAL_STATUS, REFERRALS, REFERRALS_URGENT, TOPICS
from services.runtime.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit

DOC = PROJECT_ROOT / "docs" / "architecture.md"


def _days(ms: int) -> str:
    return "forever" if ms < 0 else f"{ms // 86_400_000} d"


def topic_table() -> str:
    """The table as the code says it: every topic, its key, retention, writers and readers."""
    lines = ["| topic | key | kept | identity | written by | read by |",
             "|---|---|---|---|---|---|"]
    for t in TOPICS:
        writers = [a.principal for a in SERVICES if t in a.writes]
        readers = [a.principal for a in SERVICES if t in a.reads]
        if t in (REFERRALS, REFERRALS_URGENT):
            writers.append(f"{PARTNER_PREFIX}*")
        if t is REFERRAL_STATUS:
            readers.append(f"{PARTNER_PREFIX}*")
        if t is DLQ:
            readers.extend(a.principal for a in SERVICES if a.operator)
        lines.append(f"| `{t.name}` | {t.key_rule} | {_days(t.retention_ms)} | "
                     f"{'restricted' if t.restricted else 'de-identified'} | "
                     f"{', '.join(writers)} | {', '.join(readers) or '-'} |")
    return "\n".join(lines)


def test_the_topic_table_in_the_architecture_doc_is_the_codes() -> None:
    found = re.search(r"<!-- topics:start -->\n(.*?)\n<!-- topics:end -->", DOC.read_text(),
                      re.DOTALL)
    assert found is not None, "docs/architecture.md lost its topic table markers"
    assert found.group(1) == topic_table(), (
        "docs/architecture.md's topic table differs from schemas/topics.py and schemas/access.py;"
        " paste the table this test builds (topic_table()) between the markers")


def test_every_module_the_doc_names_exists() -> None:
    text = DOC.read_text()
    for service, module in re.findall(r"\(`services/(\w+)`\) \| `([\w/]+\.py)`", text):
        assert (PROJECT_ROOT / "services" / service / module).exists(), (service, module)
    for path in re.findall(r"`((?:services|schemas)/[\w/]+\.py)`", text):
        assert (PROJECT_ROOT / path).exists(), path
