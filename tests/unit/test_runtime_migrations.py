"""Numbered migrations: ordering and the errors a misnamed or repeated file gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import ConfigurationError
from services.runtime.db import load_migrations
from services.runtime.service import RUNTIME_MIGRATIONS

pytestmark = pytest.mark.unit


def test_migrations_are_ordered_by_number(tmp_path: Path) -> None:
    for name in ("010_later.sql", "002_second.sql", "001_first.sql"):
        (tmp_path / name).write_text(f"-- {name}")
    assert [(m.version, m.name) for m in load_migrations(tmp_path)] == [
        (1, "first"), (2, "second"), (10, "later")]


def test_a_misnamed_migration_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_first.sql").write_text("")
    with pytest.raises(ConfigurationError, match=r"not named NNN_name\.sql"):
        load_migrations(tmp_path)


def test_a_repeated_number_is_refused(tmp_path: Path) -> None:
    (tmp_path / "001_a.sql").write_text("")
    (tmp_path / "001_b.sql").write_text("")
    with pytest.raises(ConfigurationError, match="two migrations numbered 001"):
        load_migrations(tmp_path)


def test_the_runtime_ships_its_inbox_and_outbox_migration() -> None:
    migrations = load_migrations(RUNTIME_MIGRATIONS)
    assert migrations[0].version == 1
    assert "CREATE TABLE inbox" in migrations[0].sql
    assert "CREATE TABLE outbox" in migrations[0].sql
