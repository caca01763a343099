"""The pure parts of the event-request limits: the buckets' arithmetic and the recipient's key.
(The shared limits themselves: their contract, ``tests/support/contracts/event_limits.py``, on
the fake and on PostgreSQL, and on the stack in
``tests/integration/test_event_request_confirmation.py``.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.intake.event_requests.rate_limit import (
    LimitConfig,
    SharedLimits,
    normalized_email,
    retry_after,
)
from services.intake.vault import Vault

pytestmark = pytest.mark.unit


def test_retry_after_is_whole_seconds_until_a_token_is_back() -> None:
    assert retry_after(0.0, 1 / 30) == 30
    assert retry_after(0.999, 1 / 30) == 1
    assert retry_after(0.5, 2.0) == 1


def test_an_empty_bucket_is_full_again_after_burst_over_rate() -> None:
    assert LimitConfig(burst=5, per_minute=2).refill == timedelta(seconds=150)
    with pytest.raises(ValueError, match="burst"):
        LimitConfig(burst=0)
    with pytest.raises(ValueError, match="per_minute"):
        LimitConfig(confirmations_per_day=0)


@pytest.mark.parametrize("variant", ["Someone@Example.org", " someone@example.org ",
                                     "someone+flood-17@example.org", "SOMEONE+x+y@EXAMPLE.ORG"])
def test_one_inbox_is_one_recipient_however_the_address_is_written(variant: str) -> None:
    assert normalized_email(variant) == "someone@example.org"


def test_keys_are_keyed_hashes_never_the_address() -> None:
    limits = SharedLimits(LimitConfig(), Vault.development().fingerprint)
    key = limits.recipient_key("someone+1@example.org")
    assert key == limits.recipient_key("SOMEONE@example.org")
    assert key != limits.recipient_key("someone-else@example.org")
    assert len(key) == 32
    assert b"someone" not in key
    client = limits.client_key("203.0.113.9")
    assert client != limits.client_key("203.0.113.10")
    assert client != SharedLimits(LimitConfig(), Vault("other", {"other": bytes(32)}).fingerprint
                                  ).client_key("203.0.113.9")
