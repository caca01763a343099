"""Backward-compatibility check between two JSON Schemas of the same event type.

A new schema is compatible with an old one when it accepts everything the old one accepted, so
consumers on the new code still read every record already on the topic. Incompatible:

* a field removed or renamed (a rename is a removal plus an addition);
* a new required field;
* a type narrowed: a type or an ``anyOf`` alternative dropped, an enum value dropped, a tighter
  length / size / range, a new or different pattern or format, ``additionalProperties`` closed;
* a cross-field rule (``if``/``then``, ``allOf``, ``oneOf`` ...) added or changed.

The check is conservative: a pattern that only got wider is still reported, because inclusion
of regular expressions is not decided here. Such a change needs a ``v2`` type beside the ``v1``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_LOWER_BOUNDS = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")
_UPPER_BOUNDS = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_EXACT = ("pattern", "format", "multipleOf", "const")
_RULES = ("if", "then", "else", "allOf", "not", "dependentRequired", "dependentSchemas")
_MAX_DEPTH = 64


def incompatibilities(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Every reason ``new`` does not accept all that ``old`` accepted (empty: compatible).

    Args:
        old: the committed schema (a root, with its ``$defs``).
        new: the schema generated from the code now.

    Returns:
        Human-readable problems, each starting with the JSON path (``$.summary.persons[]``).
    """
    checker = _Checker(old, new)
    checker.compare(old, new, "$", 0)
    return checker.problems


class _Checker:
    def __init__(self, old_root: Mapping[str, Any], new_root: Mapping[str, Any]) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.problems: list[str] = []

    def compare(self, old: Any, new: Any, path: str, depth: int) -> None:
        for problem in self._diff(old, new, path, depth):
            if problem not in self.problems:
                self.problems.append(problem)

    def _diff(self, old: Any, new: Any, path: str, depth: int) -> list[str]:
        if depth > _MAX_DEPTH:
            return []
        old = _resolve(old, self.old_root)
        new = _resolve(new, self.new_root)
        if new is True or new == {} or old is False:
            return []
        if new is False:
            return [f"{path}: no value is accepted any more"]
        if old is True:
            old = {}
        old_alts = _alternatives(old)
        new_alts = _alternatives(new)
        if old_alts is not None or new_alts is not None:
            return self._diff_alternatives(old, new, old_alts, new_alts, path, depth)
        problems: list[str] = []
        problems += _diff_types(old, new, path)
        problems += _diff_enum(old, new, path)
        problems += _diff_bounds(old, new, path)
        problems += _diff_rules(old, new, path)
        problems += self._diff_object(old, new, path, depth)
        if "items" in new and isinstance(new["items"], Mapping | bool):
            problems += self._diff(old.get("items", True), new["items"], f"{path}[]", depth + 1)
        return problems

    def _diff_alternatives(
        self,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        old_alts: list[Any] | None,
        new_alts: list[Any] | None,
        path: str,
        depth: int,
    ) -> list[str]:
        problems: list[str] = []
        if "properties" in old and "properties" in new:
            # an object with an extra anyOf/oneOf rule: compare the object itself as well
            problems += self._diff(
                _strip_alternatives(old), _strip_alternatives(new), path, depth + 1
            )
        if (old.get("oneOf") is not None) != (new.get("oneOf") is not None):
            problems.append(f"{path}: oneOf added or removed")
        candidates = new_alts if new_alts is not None else [_strip_alternatives(new)]
        for alt in old_alts if old_alts is not None else [_strip_alternatives(old)]:
            best: list[str] | None = None
            for candidate in candidates:
                found = self._diff(alt, candidate, path, depth + 1)
                if best is None or len(found) < len(best):
                    best = found
                if not found:
                    break
            if best:
                problems += best
        return problems

    def _diff_object(
        self, old: Mapping[str, Any], new: Mapping[str, Any], path: str, depth: int
    ) -> list[str]:
        problems: list[str] = []
        old_props: Mapping[str, Any] = old.get("properties", {})
        new_props: Mapping[str, Any] = new.get("properties", {})
        for name, old_prop in old_props.items():
            if name not in new_props:
                problems.append(f"{path}.{name}: field removed or renamed")
            else:
                problems += self._diff(old_prop, new_props[name], f"{path}.{name}", depth + 1)
        for name in sorted(set(new.get("required", ())) - set(old.get("required", ()))):
            problems.append(f"{path}.{name}: new required field")
        if new.get("additionalProperties") is False and old.get("additionalProperties") is not False:
            problems.append(f"{path}: additional properties no longer accepted")
        return problems


def _resolve(schema: Any, root: Mapping[str, Any]) -> Any:
    seen: set[str] = set()
    while isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str):
        ref: str = schema["$ref"]
        if ref in seen or not ref.startswith("#/"):
            break
        seen.add(ref)
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **rest} if isinstance(target, Mapping) else target
    return schema


def _alternatives(schema: Mapping[str, Any]) -> list[Any] | None:
    alts = schema.get("anyOf", schema.get("oneOf"))
    return list(alts) if isinstance(alts, list) else None


def _strip_alternatives(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}


def _types(schema: Mapping[str, Any]) -> set[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None
    return {kind} if isinstance(kind, str) else set(kind)


def _diff_types(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> list[str]:
    new_types = _types(new)
    if new_types is None:
        return []
    old_types = _types(old)
    if old_types is None:
        return [f"{path}: type restricted to {sorted(new_types)}"]
    lost = old_types - new_types
    if "number" in new_types:
        lost.discard("integer")
    return [f"{path}: type narrowed, {sorted(lost)} no longer accepted"] if lost else []


def _values(schema: Mapping[str, Any]) -> list[Any] | None:
    if "enum" in schema:
        return list(schema["enum"])
    if "const" in schema:
        return [schema["const"]]
    return None


def _diff_enum(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> list[str]:
    new_values = _values(new)
    if new_values is None:
        return []
    old_values = _values(old)
    if old_values is None:
        return [f"{path}: restricted to the values {new_values}"]
    lost = [v for v in old_values if v not in new_values]
    return [f"{path}: values no longer accepted: {lost}"] if lost else []


def _diff_bounds(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> list[str]:
    problems: list[str] = []
    for key in _LOWER_BOUNDS:
        if key in new and (key not in old or new[key] > old[key]):
            problems.append(f"{path}: {key} raised to {new[key]}")
    for key in _UPPER_BOUNDS:
        if key in new and (key not in old or new[key] < old[key]):
            problems.append(f"{path}: {key} lowered to {new[key]}")
    for key in _EXACT:
        if key == "const":
            continue  # handled with enum
        if key in new and old.get(key) != new[key]:
            problems.append(f"{path}: {key} added or changed")
    return problems


def _diff_rules(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> list[str]:
    return [
        f"{path}: cross-field rule {key!r} added or changed"
        for key in _RULES
        if key in new and _canonical(new[key]) != _canonical(old.get(key))
    ]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
