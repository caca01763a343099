"""What every HTTP refusal of ours is: an RFC 9457 problem (tests of the HTTP routes share it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

PROBLEM = "application/problem+json"


def assert_problem(resp: httpx.Response, status: int, code: str,
                   never: Iterable[str] = ()) -> dict[str, Any]:
    """Assert that ``resp`` is the problem ``code`` with ``status``, a title and a detail, and that
    none of ``never`` (what the sender wrote) is echoed in it; returns the problem's body."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    problem: dict[str, Any] = resp.json()
    assert (problem["type"], problem["status"]) == (f"urn:commande:problem:{code}", status)
    assert problem["title"]
    assert problem["detail"]
    for text in never:
        assert text not in resp.text
    return problem
