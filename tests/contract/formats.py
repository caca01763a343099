"""The committed JSON Schemas applied by an independent validator with its formats on.

``jsonschema`` (what ``check-jsonschema`` is built on) checks ``format`` only when asked to, and
then only the formats whose checker it can load: without ``rfc3339-validator`` installed it
passes every ``date-time`` and ``time`` silently. :data:`FORMATS` is its format checker;
``test_contract_formats.py`` proves it rejects a bad value of every format our schemas use, so a
schema whose format does not match our data fails the tests (the unit samples and the records
read back from the stack, ``tests/integration/test_contract_records.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

import schemas.snapshots as snapshots

FORMATS: FormatChecker = Draft202012Validator.FORMAT_CHECKER
"""jsonschema's draft 2020-12 format checker (rfc3339-validator gives it date-time and time)."""


def committed(ce_type: str) -> dict[str, Any]:
    """The committed schema of ``ce_type`` (``schemas/snapshots/<ce_type>.json``)."""
    return json.loads((snapshots.HERE / f"{ce_type}.json").read_text("utf-8"))  # type: ignore[no-any-return]


@cache
def validator(ce_type: str) -> Draft202012Validator:
    """A validator of the committed schema of ``ce_type`` that asserts formats."""
    return Draft202012Validator(committed(ce_type), format_checker=FORMATS)


def problems(ce_type: str, body: Any) -> list[str]:
    """Every error of ``body`` against the committed schema of ``ce_type``, formats included,
    each as ``ce_type $.path: message``."""
    return [f"{ce_type} $.{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
            for error in validator(ce_type).iter_errors(body)]


def formats_used(schema: Any) -> Iterator[str]:
    """Every ``format`` value anywhere in ``schema``."""
    if isinstance(schema, dict):
        if isinstance(schema.get("format"), str):
            yield schema["format"]
        for value in schema.values():
            yield from formats_used(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from formats_used(value)
