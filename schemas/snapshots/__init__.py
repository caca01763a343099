"""Committed snapshots of the contracts: one JSON Schema per type, plus ``asyncapi.json``.

``commande schemas export`` calls :func:`export`; a unit test fails when the files here and the
code differ, and :func:`export` refuses to overwrite a type's schema with an incompatible one
(add a ``v2`` type beside it instead).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.asyncapi import document
from schemas.compat import incompatibilities
from schemas.errors import ContractError
from schemas.json_schemas import json_schema
from schemas.registry import MESSAGES

HERE = Path(__file__).parent
ASYNCAPI_FILE = "asyncapi.json"


class IncompatibleChange(ContractError):
    """A committed ``v1`` schema would change incompatibly; ``problems`` lists how, per type."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        lines = [f"{ce_type}: {p}" for ce_type, found in problems.items() for p in found]
        super().__init__(
            "incompatible change to a published type; add a new version beside it instead:\n  "
            + "\n  ".join(lines)
        )
        self.problems = problems


def dumps(data: Any) -> str:
    """Deterministic JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """File name → text of every snapshot, as the code produces them now."""
    files = {f"{model.ce_type}.json": dumps(json_schema(model)) for model in MESSAGES}
    files[ASYNCAPI_FILE] = dumps(document())
    return files


def export(out_dir: Path = HERE, *, allow_breaking: bool = False) -> list[Path]:
    """Write every snapshot into ``out_dir`` (created if missing); return the paths written.

    Args:
        out_dir: where to write (``schemas/snapshots`` for the committed copy).
        allow_breaking: overwrite even an incompatible change (only for a type never released).

    Raises:
        IncompatibleChange: a type's existing file would change incompatibly.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    files = rendered()
    problems: dict[str, list[str]] = {}
    for model in MESSAGES:
        path = out_dir / f"{model.ce_type}.json"
        if path.exists() and not allow_breaking:
            found = incompatibilities(json.loads(path.read_text("utf-8")), json_schema(model))
            if found:
                problems[model.ce_type] = found
    if problems:
        raise IncompatibleChange(problems)
    written: list[Path] = []
    for name, text in sorted(files.items()):
        path = out_dir / name
        if not path.exists() or path.read_text("utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale(out_dir: Path = HERE) -> list[Path]:
    """Snapshot files in ``out_dir`` that no registered type produces any more."""
    expected = set(rendered())
    return sorted(p for p in out_dir.glob("*.json") if p.name not in expected)
