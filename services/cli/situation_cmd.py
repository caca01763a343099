"""``commande situation show ID``: a situation's de-identified timeline, read from its partition."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated
from uuid import UUID

import typer
from aiokafka import TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from schemas.base import Message
from schemas.envelope import Envelope
from schemas.errors import ContractError
from schemas.topics import SITUATIONS
from services.analytics.projections.timeline import Timeline, fold
from services.runtime import kafka_client
from services.runtime.events import decode
from services.runtime.kafka import InRecord, partitions
from services.runtime.settings import Settings

app = typer.Typer(help="Situations: their de-identified history.", no_args_is_help=True)


PRINCIPAL = "analytics"
"""The timeline is de-identified: it reads as the read-only analytics principal."""


async def situation_events(settings: Settings, situation_id: UUID) -> list[Envelope[Message]]:
    """Every decodable event keyed by ``situation_id`` on the situations topic, in order.

    A situation's events share its key, so they live in one partition: only that one is read.
    """
    key = str(situation_id).encode()
    parts = await partitions(settings, PRINCIPAL, SITUATIONS.name)
    if not parts:
        return []
    partition = DefaultPartitioner()(key, parts, parts)
    tp = TopicPartition(SITUATIONS.name, partition)
    consumer = kafka_client.consumer(settings, PRINCIPAL, group_id=None, enable_auto_commit=False,
                                     client_id=f"commande-cli-{uuid.uuid4().hex[:8]}")
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        found: list[Envelope[Message]] = []
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=500)
            for rec in batch.get(tp, []):
                if rec.key != key or rec.offset >= end:
                    continue
                try:
                    found.append(decode(InRecord.from_consumer_record(rec)))
                except ContractError:
                    continue
        return found
    finally:
        await consumer.stop()


async def timeline(settings: Settings, situation_id: UUID) -> Timeline | None:
    """The situation's de-identified timeline (None when it has no events)."""
    found: Timeline | None = None
    for env in await situation_events(settings, situation_id):
        found = fold(found, env)
    return found


@app.command()
def show(situation_id: Annotated[UUID, typer.Argument(help="The situation id (from ReferralAccepted).")]
         ) -> None:
    """Print a situation's timeline: opened, scheduled, decisions, assignments, SLA, conclusion.

    Only de-identified facts: codes, agencies, times.

    Example: commande situation show 01a21822-25c0-7be7-9484-55afc005e5ce
    """
    found = asyncio.run(timeline(Settings(), situation_id))
    if found is None:
        typer.secho(f"no events for situation {situation_id}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.echo(f"situation {situation_id}")
    for entry in found.entries:
        typer.echo(f"  {entry.at:%Y-%m-%d %H:%M} UTC  {entry.event:<24} {entry.detail}")
