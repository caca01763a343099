"""The cyclic garbage collector, set for a long-running service.

A built service holds ~120,000 objects that live as long as the process (modules, classes,
pydantic's schemas, the reference data): with CPython's default thresholds every full collection
walks them all, and a young collection ran every 700 net allocations of a batch's short-lived
envelopes and rows. :func:`settle`, called once the services are built and before they serve,
collects once, moves what survived into the permanent generation (:func:`gc.freeze`: never walked
again) and lets :data:`YOUNG_THRESHOLD` allocations pass between young collections. In the
pipeline bench the collector's CPU fell from ~2.8 s to ~0.9 s a run across the three services
(bench/RESULTS.md, 2026-12-05); reference cycles are still collected, a little later.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
"""Net allocations of container objects between two young-generation collections (CPython's
default: 700). The older generations keep their default thresholds."""


def settle() -> None:
    """Collect, freeze what survived (the process's long-lived objects) and widen the young
    generation. Call once, after building the services and before serving."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
