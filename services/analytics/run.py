"""The composition root of an analytics replay: read, fold, export. No I/O in the projections.

``run(...)`` is what ``commande replay`` calls, and what the integration tests and the benchmark
call directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from schemas.errors import ConfigurationError
from schemas.topics import EVENT_REQUESTS, SITUATIONS
from services.analytics.privacy import Method
from services.analytics.projections import PROJECTIONS, TIMELINE, Keyed
from services.analytics.projections import event_requests as requests
from services.analytics.projections import facts as facts_fold
from services.analytics.projections.provincial import numbered
from services.analytics.replay import Progress, ReplayReport, Source, replay, replay_facts
from services.analytics.stores import ProvincialStore, StatisticsStore
from services.runtime.settings import PROJECT_ROOT, Settings

DIRECTORY = PROJECT_ROOT / "deploy" / "directory" / "halton.yaml"
FOLDED = facts_fold.FOLDED | requests.FOLDED
"""What the statistics fold (situations' facts and event requests)."""


def default_topics(projection: str) -> tuple[str, ...]:
    """The live topics a projection reads when none is given: statistics also counts community
    event requests (intake's de-identified stream, never the restricted submissions)."""
    if projection == "statistics":
        return (SITUATIONS.name, EVENT_REQUESTS.name)
    return (SITUATIONS.name,)


def agency_types(path: Path = DIRECTORY) -> dict[str, str]:
    """Agency slug → agency type, from the directory file."""
    from directory import load_directory

    return {org.agency_id: org.agency_type.value for org in load_directory(path).organizations}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a run read and wrote."""

    report: ReplayReport
    files: tuple[Path, ...]


async def run(settings: Settings, projection: str, sources: Sequence[Source], out: Path, *,
              start: datetime | None, end: datetime | None, types: Mapping[str, str],
              progress: Progress | None = None, protection: Method = Method.SUPPRESS,
              generated_at: datetime | None = None, workers: int | None = None) -> Outcome:
    """Replay ``sources`` into ``projection`` and write its exports under ``out``.

    ``protection`` is how counts are protected (complementary suppression, or rounding to base
    5: the analyst's choice); ``generated_at`` (default: now) goes in the report's title only,
    so every other file stays byte-identical for the same input. ``workers``: processes that
    read the range, a group of partitions each (``None``: :func:`~services.analytics.replay.
    worker_count` decides from the range's size; the timeline reads in one process).
    """
    # pyarrow, matplotlib and XlsxWriter (~75 MB) load only when exports are written: the
    # ``commande`` CLI registers this command, and ``commande run <service>`` must not carry them.
    from services.analytics import exports, release, report, workbook
    if projection not in PROJECTIONS:
        raise ConfigurationError(
            f"unknown projection {projection!r}; use one of {', '.join(PROJECTIONS)}")
    if projection == "timeline":
        # One process unless asked: a worker's part is every timeline it folded, which costs
        # more to send back than to fold (300,000 events: 7.6 s in one process, 9.7 s in two).
        timelines, read = await replay(settings, sources, partial(Keyed, TIMELINE.fold),
                                       start=start, end=end, progress=progress,
                                       workers=1 if workers is None else workers)
        files = exports.write(out, [exports.timeline_dataset(timelines.states())])
    elif projection == "provincial":
        closed, read = await replay_facts(settings, sources, partial(ProvincialStore, types),
                                          start=start, end=end, progress=progress,
                                          types=facts_fold.FOLDED, workers=workers)
        files = exports.write(out, [exports.provincial_dataset(numbered(closed.rows))])
    else:
        summary, read = await replay_facts(settings, sources, partial(StatisticsStore, types),
                                           start=start, end=end, progress=progress, types=FOLDED,
                                           workers=workers)
        rel = release.build(summary.statistics, summary.asked, protection)
        files = exports.write(out, [*exports.statistics_datasets(rel),
                                    exports.event_request_dataset(rel)])
        files.append(workbook.write_workbook(out / "statistics.xlsx", rel,
                                             period=report.period(rel, start, end)))
        when = generated_at or datetime.now(UTC)
        files.append(report.write_report(
            out / "report.html", rel, title=report.title_of(rel, when, start, end),
            context=[*_context(sources, start, end, read),
                     ("protection", protection.value)]))
    files.append(exports.write_json(out / "replay.json", {
        "projection": projection,
        "topics": [s.name for s in sources],
        "from": start.isoformat() if start else "beginning",
        "to": end.isoformat() if end else "end offsets at start",
        "ranges": read.ranges,
        "records": read.records,
        "events": read.events,
        "undecodable": dict(sorted(read.undecodable.items())),
        "not_folded": read.skipped,
    }))
    return Outcome(read, tuple(files))


def _context(sources: Sequence[Source], start: datetime | None, end: datetime | None,
             read: ReplayReport) -> list[tuple[str, str]]:
    return [
        ("topics", ", ".join(s.name for s in sources)),
        ("from", start.isoformat() if start else "beginning"),
        ("to", end.isoformat() if end else "end offsets at start"),
        ("events replayed", str(read.events)),
        ("undecodable records skipped", str(sum(read.undecodable.values()))),
    ]
