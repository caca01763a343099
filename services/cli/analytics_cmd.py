"""``commande replay`` and ``commande simulate events``: analytics from the command line.

Wire into :mod:`services.cli`::

    app.add_typer(analytics_cmd.replay_app, name="replay")
    app.add_typer(analytics_cmd.simulate_app, name="simulate")
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as Bar

from services.analytics.privacy import Method
from services.analytics.projections import PROJECTIONS
from services.analytics.replay import (
    DEFAULT_TOPICS,
    PARALLEL_FROM,
    Progress,
    Source,
    parse_time,
    resolve,
)
from services.analytics.run import DIRECTORY, Outcome, agency_types, default_topics, run
from services.analytics.simulate import Plan, generate, publish
from services.runtime.clock import SystemClock
from services.runtime.logging import configure_logging, get_logger
from services.runtime.settings import Settings

replay_app = typer.Typer(
    help="Replay topics from a point in time into a projection and export it (no side effects).",
    no_args_is_help=True,
)
simulate_app = typer.Typer(
    help="Fill topics with a realistic synthetic history.\n\n"
    "Example: commande simulate events --situations 2000 --seed 1",
    no_args_is_help=True,
)


@replay_app.callback(invoke_without_command=True)
def replay(
    from_: Annotated[str, typer.Option(
        "--from", help="First event time: 2026-01-01, 2026-01-01T09:00-05:00 (no offset = UTC) "
        "or 'beginning'.")],
    projection: Annotated[str, typer.Option(
        help=f"One of: {', '.join(PROJECTIONS)}. statistics: the protected release (report, "
        "workbook, CSV, Parquet); timeline and provincial: restricted-use microdata (month-level "
        "dates, no situation ids).")],
    out: Annotated[Path, typer.Option(help="Directory for the exports (created if needed).")],
    to: Annotated[str | None, typer.Option(
        "--to", help="Stop before this time (default: the end offsets when the replay starts).")
    ] = None,
    topic: Annotated[list[str] | None, typer.Option(
        help="Topic to read (repeatable); a registry topic or a prefixed copy. Restricted "
        f"topics are refused. Default: {', '.join(DEFAULT_TOPICS)} (statistics: also "
        "commande.event-requests.v1).")] = None,
    directory: Annotated[Path, typer.Option(
        help="Directory file giving each agency's type.")] = DIRECTORY,
    protection: Annotated[Method, typer.Option(
        help="How counts are protected: 'suppress' (under 5 shown <5, and the cells that would "
        "give them away hidden, x) or 'round5' (every count rounded to base 5).")
    ] = Method.SUPPRESS,
    workers: Annotated[int | None, typer.Option(
        min=1, help="Processes reading the topics' partitions side by side (1: this process "
        f"only). Default: one per CPU core for {PARALLEL_FROM:,} records or more, else 1; "
        "the timeline: 1.")
    ] = None,
) -> None:
    """Replay with its own partition assignment: no consumer group, no commit, nothing produced.

    Example: commande replay --from 2026-01-01 --projection statistics --out out/stats
    """
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format, service="analytics")
    log = get_logger("commande.analytics")
    sources = resolve(topic or list(default_topics(projection)))
    start = parse_time(from_)
    end = parse_time(to) if to is not None else None
    types = agency_types(directory)
    if sys.stderr.isatty():
        outcome = _with_progress_bar(settings, projection, sources, out, start,
                                     end, types, protection, workers)
    else:
        outcome = asyncio.run(run(settings, projection, sources, out, start=start,
                                  end=end, types=types, progress=_log_progress(),
                                  protection=protection, workers=workers))
    read = outcome.report
    log.info("replay done", events=read.events, records=read.records,
             undecodable=sum(read.undecodable.values()), seconds=round(read.seconds, 2),
             readers=read.readers)
    readers = "1 process" if read.readers == 1 else f"{read.readers} processes"
    typer.echo(f"replayed {read.events} events ({sum(read.undecodable.values())} undecodable "
               f"records skipped) in {read.seconds:.1f}s by {readers}")
    for path in outcome.files:
        typer.echo(f"  wrote {path}")


def _with_progress_bar(settings: Settings, projection: str, sources: list[Source], out: Path,
                       start: datetime | None, end: datetime | None,
                       types: dict[str, str], protection: Method,
                       workers: int | None) -> Outcome:
    """Run with a progress bar on the terminal: events, rate, ETA."""
    columns = (TextColumn("replay"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]} events/s"), TimeRemainingColumn())
    with Bar(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("replay", total=None, rate="0")
        began = time.monotonic()

        def update(done: int, total: int) -> None:
            rate = done / max(time.monotonic() - began, 1e-9)
            bar.update(task, completed=done, total=total, rate=f"{rate:,.0f}")

        return asyncio.run(run(settings, projection, sources, out, start=start, end=end,
                               types=types, progress=update, protection=protection,
                               workers=workers))


def _log_progress(every: float = 5.0) -> Progress:
    log = get_logger("commande.analytics")
    began = time.monotonic()
    last = [began]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= every or done >= total:
            last[0] = now
            rate = done / max(now - began, 1e-9)
            log.info("replay progress", records=done, total=total, rate=round(rate))

    return report


@simulate_app.command()
def events(
    situations: Annotated[int, typer.Option(min=1, help="How many situations to simulate.")],
    seed: Annotated[int, typer.Option(min=0, help="Random seed (same seed, same history).")] = 1,
    start: Annotated[str, typer.Option(help="First day of the history (YYYY-MM-DD).")] = "2026-01-01",
    months: Annotated[int, typer.Option(min=1, max=120, help="Months the history spans.")] = 10,
    event_requests: Annotated[int, typer.Option(
        min=0, help="Also simulate this many community event requests (de-identified facts "
        "only).")] = 0,
    topic_prefix: Annotated[str, typer.Option(
        help="Write to '<prefix><topic>': throwaway copies whose prefix starts with 'sandbox.' "
        "and ends with '.'; never the live topics.")] = "sandbox.",
) -> None:
    """Write a synthetic history to throwaway copies of the topics (never the live ones).

    Replay reads them with --topic, e.g. --topic sandbox.commande.situations.v1.

    Example: commande simulate events --situations 2000 --seed 1 --topic-prefix sandbox.trial.
    """
    settings = Settings()
    plan = Plan(situations=situations, seed=seed, start=date.fromisoformat(start), months=months,
                event_requests=event_requests)
    plan.check(SystemClock().now())
    began = time.monotonic()
    written = asyncio.run(publish(settings, generate(plan), prefix=topic_prefix))
    for name, n in written.items():
        typer.echo(f"{name}: {n} records")
    typer.echo(f"done in {time.monotonic() - began:.1f}s")
