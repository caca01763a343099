"""convening's composition root: ``build(settings, clock) -> Service``.

Wires the directory, reference data, clock, the two consumers and the timer loop on a runtime
:class:`~services.runtime.service.Service` named ``convening`` (its PostgreSQL schema too).
"""

from __future__ import annotations

from pathlib import Path

from directory import DirectoryHolder, category_sectors, reference_codes
from schemas.reference import reference
from schemas.topics import SITUATIONS, SITUATIONS_URGENT, TABLE_ACTIONS
from services.convening.handlers import Deps, Handlers
from services.convening.settings import ConveningSettings
from services.convening.timer_loop import timer_worker
from services.runtime import events, production
from services.runtime.clock import Clock, SystemClock
from services.runtime.service import Service
from services.runtime.settings import Settings, complete

NAME = "convening"
MIGRATIONS = Path(__file__).with_name("sql")


def build(settings: Settings, clock: Clock | None = None) -> Service:
    """The convening service, ready for ``svc.faststream.start()`` (``commande run`` does it).

    Args:
        settings: convening's settings; a plain runtime :class:`Settings` (the test fixture's)
            is extended with convening's defaults and environment.
        clock: the clock the handlers and timers read; :class:`SystemClock` by default.

    Raises:
        ConfigurationError: the directory file is missing or invalid.
    """
    settings = complete(settings, ConveningSettings)
    production.enforce(settings, [
        *production.runtime_refusals(settings),
        *production.directory_refusals("COMMANDE_DIRECTORY_PATH", settings.directory_path)])
    ref = reference()
    deps = Deps(
        settings=settings,
        clock=clock or SystemClock(),
        directory=DirectoryHolder(settings.directory_path, reference_codes(ref)),
        reference=ref,
        category_sectors=category_sectors(ref),
    )
    handlers = Handlers(deps)
    svc = Service(NAME, settings, migrations=MIGRATIONS)
    svc.consume(SITUATIONS.name, group=settings.situations_group, name="convening-situations",
                decode=events.decode, handle=handlers.situation_event,
                handle_batch=handlers.situation_events, urgent_lane=SITUATIONS_URGENT.name,
                both_ways=events.copied_to(SITUATIONS_URGENT.name),
                max_records=settings.situations_max_records,
                gather=True)  # an urgent situation's events come by the lane
    svc.consume(TABLE_ACTIONS.name, group=settings.commands_group, name="convening-commands",
                decode=events.decode, handle=handlers.command)

    svc.background(timer_worker(deps))
    return svc
