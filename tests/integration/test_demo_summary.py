"""``make demo``'s summary reads the services' tables directly: it must name tables that exist
after the migrations (it once counted timers in ``convening.timers`` after they had moved to
``durable_timers``, and the demo failed at its last step; the suite never ran that query)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.demo import Demo, summary
from services.convening.main import MIGRATIONS as CONVENING
from services.intake.main import MIGRATIONS as INTAKE
from services.runtime import db
from services.runtime.service import RUNTIME_MIGRATIONS
from services.runtime.settings import Settings

pytestmark = pytest.mark.integration


async def test_the_demos_summary_runs_on_the_migrated_schemas(
        settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, folder in (("convening", CONVENING), ("intake", INTAKE)):
        pool = await db.create_pool(settings, name, min_size=1, max_size=1)
        try:
            await db.migrate(pool, name, {"runtime": RUNTIME_MIGRATIONS, name: folder})
        finally:
            await pool.close()
    await summary(Demo(settings, env={}, clock_file=tmp_path / "clock-offset"))
    out = capsys.readouterr().out
    assert "situations opened: 0" in out
    assert "timers (24/48-hour SLA, lead acceptance, agendas): none" in out
    assert "disclosures sealed (Filter 3): 0" in out
