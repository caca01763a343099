"""Prometheus metrics shared by every service (served at ``/metrics``). Labels carry no personal data."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram


@dataclass(frozen=True)
class Metrics:
    """The process's metrics; one instance, :data:`METRICS`."""

    handled: Counter
    failed: Counter
    dead_lettered: Counter
    duplicates: Counter
    outbox_published: Counter
    outbox_backlog: Gauge
    consumer_lag: Gauge
    delivery_attempts: Counter
    loop_lag: Histogram
    placement_wait: Histogram


METRICS = Metrics(
    handled=Counter("commande_handled", "Records handled (effect committed)", ["consumer"]),
    failed=Counter("commande_failed", "Handling attempts that failed", ["consumer", "error"]),
    dead_lettered=Counter("commande_dead_lettered", "Records sent to the DLQ", ["consumer"]),
    duplicates=Counter("commande_duplicates", "Redeliveries dropped by the inbox", ["consumer"]),
    outbox_published=Counter("commande_outbox_published", "Outbox rows published", ["schema"]),
    outbox_backlog=Gauge("commande_outbox_backlog", "Outbox rows not yet published", ["schema"]),
    consumer_lag=Gauge("commande_consumer_lag", "Records behind the end of the partition",
                       ["consumer", "topic", "partition"]),
    delivery_attempts=Counter("commande_delivery_attempts", "Notice delivery attempts",
                              ["channel", "outcome"]),
    loop_lag=Histogram(
        "commande_event_loop_lag_seconds",
        "How late the event loop woke a 100 ms timer: the time other work held the loop",
        ["service"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)),
    placement_wait=Histogram(
        "commande_placement_lock_wait_seconds",
        "How long convening's placement of a batch waited for its tables' placement locks",
        ["batch"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)),
)
