"""Which ``COMMANDE_*`` names exist: those the settings classes define and those the code reads
from the environment directly (tests of messages, docs and the compose file check against it)."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path

from pydantic.fields import FieldInfo

from services.runtime.settings import PROJECT_ROOT, Settings

SETTINGS_MODULES = ("services.intake.settings", "services.convening.settings",
                    "services.notifier.settings", "services.gateway.settings")
READ_DIRECTLY = re.compile(r"""(?:environ(?:\.get)?\(|environ\[|envvar=)\s*["'](COMMANDE_[A-Z0-9_]+)""")
TEST_ONLY = {"COMMANDE_TEST_STACK_UP", "COMMANDE_CHROMIUM", "COMMANDE_CHROMEDRIVER",
             "COMMANDE_BROWSER_OUTPUT"}
"""Read by the test harness only, not the product: tests/conftest.py (the stack), tests/browser
(where chromium and its driver are, where screenshots go)."""


def files() -> list[Path]:
    found = [PROJECT_ROOT / "README.md", PROJECT_ROOT / "Makefile"]
    for folder in ("services", "schemas", "deploy", "docs", "bench"):
        found.extend(p for p in (PROJECT_ROOT / folder).rglob("*")
                     if p.suffix in {".py", ".md", ".j2", ".sh", ".yaml", ".json"})
    return found


def settings_fields() -> Iterator[tuple[str, FieldInfo]]:
    """``(COMMANDE_<NAME>, field)`` of every field of every settings class (repeats included)."""
    for module in SETTINGS_MODULES:
        importlib.import_module(module)
    classes: list[type[Settings]] = [Settings]
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        for name, field in cls.model_fields.items():
            yield f"COMMANDE_{name.upper()}", field


def defined() -> set[str]:
    """Environment names the settings classes read, plus those the CLI reads directly."""
    names = {name for name, _ in settings_fields()}
    for path in files():
        if path.suffix == ".py":
            names.update(READ_DIRECTLY.findall(path.read_text()))
    return names
