"""Where a situation's time went between intake and convening, from the services' own tables.

Run: ``.venv/bin/python -m bench.stages [--seconds S]`` (default 120) against the local stack,
right after a ``bench.pipeline`` run (the outbox keeps published rows for an hour). For every
situation intake opened in the last S seconds and convening scheduled, three steps, p50 and p99,
routine and urgent apart:

1. **intake → relay**: intake's transaction began (its outbox row's ``created_at``, PostgreSQL's
   ``now()``) → its relay published the ``SituationOpened`` (the earlier of the main topic's copy
   and an urgent situation's lane copy: ``sent_at``);
2. **relay → convening**: that publish → convening's transaction that placed it began (the
   ``created_at`` of its ``SituationScheduled`` outbox row): Kafka, convening's consumer, the
   batch before it, the placement lock;
3. **convening → relay**: → convening's relay published ``SituationScheduled``.

The time before step 1 (the partner's produce → intake's transaction) is not in the tables: it is
the bench's figure less the three steps. All times are the database's clock, so the services'
clock offset does not matter. No identifying data is read: keys, types and times only.
"""

from __future__ import annotations

import argparse
import asyncio

import asyncpg

from schemas.situations import SituationOpened, SituationScheduled
from schemas.topics import SITUATIONS, SITUATIONS_URGENT
from services.runtime.settings import Settings

STAGES = """
WITH opened AS (
  SELECT o.key, min(o.created_at) AS began,
         min(o.sent_at) FILTER (WHERE o.topic = $2) AS main_sent,
         min(o.sent_at) FILTER (WHERE o.topic = $3) AS lane_sent
  FROM intake.outbox o
  WHERE o.created_at > now() - make_interval(secs => $1)
    AND o.topic IN ($2, $3)
    AND o.headers @> jsonb_build_array(jsonb_build_array('ce_type', $4::text))
  GROUP BY o.key),
scheduled AS (
  SELECT o.key, min(o.created_at) AS began, min(o.sent_at) AS sent
  FROM convening.outbox o
  WHERE o.created_at > now() - make_interval(secs => $1) AND o.topic = $2
    AND o.headers @> jsonb_build_array(jsonb_build_array('ce_type', $5::text))
  GROUP BY o.key),
steps AS (
  SELECT op.lane_sent IS NOT NULL AS urgent,
         least(op.main_sent, coalesce(op.lane_sent, op.main_sent)) AS published,
         op.began AS intake_began, s.began AS convening_began, s.sent AS scheduled_sent
  FROM opened op JOIN scheduled s USING (key))
SELECT urgent, count(*) AS situations,
  percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (
    ORDER BY extract(epoch FROM published - intake_began) * 1000) AS intake_relay,
  percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (
    ORDER BY extract(epoch FROM convening_began - published) * 1000) AS relay_convening,
  percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (
    ORDER BY extract(epoch FROM scheduled_sent - convening_began) * 1000) AS convening_relay
FROM steps GROUP BY urgent ORDER BY urgent
"""
"""Per priority: how many situations, and the p50 and p99 (ms) of each step. ``$1`` seconds back;
``$2``/``$3`` the situations topic and its urgent lane; ``$4``/``$5`` the opened and scheduled
event types."""


async def main(seconds: float) -> None:
    conn = await asyncpg.connect(Settings().database_url.get_secret_value())
    try:
        rows = await conn.fetch(STAGES, seconds, SITUATIONS.name, SITUATIONS_URGENT.name,
                                SituationOpened.ce_type, SituationScheduled.ce_type)
    finally:
        await conn.close()
    if not rows:
        print(f"no situation was opened and scheduled in the last {seconds:g} s")
        return
    print(f"situations opened in the last {seconds:g} s, p50 / p99 in ms:")
    for r in rows:
        steps = ", ".join(f"{name} {r[key][0]:,.0f} / {r[key][1]:,.0f}" for name, key in (
            ("intake -> relay", "intake_relay"), ("relay -> convening", "relay_convening"),
            ("convening -> relay", "convening_relay")))
        print(f"- {'urgent' if r['urgent'] else 'routine'} ({r['situations']:,}): {steps}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0,
                        help="situations intake opened this many seconds ago or later")
    asyncio.run(main(parser.parse_args().seconds))
