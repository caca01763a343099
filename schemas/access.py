"""Who may do what on the broker: the ACL table, one row per principal, beside the topic registry.

Deny by default: a principal may do only what its row grants (the broker runs KRaft's
``StandardAuthorizer`` with ``allow.everyone.if.no.acl.found=false``). A fact is trusted because
only its producer may write its topic: ``commande.table-actions.v1`` has one writer, the
gateway, which stamps the verified actor; the situations topic has two, intake and convening.

The embedded stack applies this table to its broker (``deploy/local/kafka_security.py``);
``commande stack acls`` prints it as ``kafka-acls`` commands for a cluster's admin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from schemas.topics import (
    DISCLOSURES,
    DLQ,
    EVENT_REQUEST_SUBMISSIONS,
    EVENT_REQUESTS,
    MEETINGS,
    MEETINGS_URGENT,
    NOTICES,
    REFERRAL_STATUS,
    REFERRALS,
    REFERRALS_URGENT,
    SITUATIONS,
    SITUATIONS_URGENT,
    TABLE_ACTIONS,
    TopicSpec,
)

PARTNER_PREFIX = "partner-"
"""A partner agency's principal is ``partner-<agency_id>`` (one per agency of the directory)."""
SANDBOX_PREFIX = "sandbox."
"""Synthetic copies of the topics (``commande simulate events --topic-prefix sandbox.``)."""


class Operation(StrEnum):
    """Kafka ACL operations we grant."""

    READ = "Read"
    WRITE = "Write"
    CREATE = "Create"
    DESCRIBE = "Describe"
    DESCRIBE_CONFIGS = "DescribeConfigs"
    ALTER_CONFIGS = "AlterConfigs"


class Resource(StrEnum):
    """Kafka ACL resource types we grant on."""

    TOPIC = "Topic"
    GROUP = "Group"
    CLUSTER = "Cluster"


class Pattern(StrEnum):
    """Whether a resource name is the whole name or a prefix."""

    LITERAL = "Literal"
    PREFIXED = "Prefixed"


@dataclass(frozen=True, slots=True, order=True)
class Binding:
    """One ACL: ``User:<principal>`` may ``operation`` on a resource (allow)."""

    principal: str
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation


@dataclass(frozen=True, slots=True)
class Access:
    """One principal's row of the table.

    Attributes:
        principal: the Kafka user (SCRAM user name, or the mapped certificate name under mTLS).
        purpose: who uses it, in words.
        writes: topics it may produce to.
        reads: topics it may consume.
        group_prefix: consumer groups it may join: every group whose name starts with this.
        operator: may describe every topic and group, read the dead letters, and create the
            registry's topics and set their configuration back (``commande topics apply``).
        sandbox: what it may do on ``sandbox.`` copies of the topics (synthetic data).
        development_only: the embedded stack has it; a production cluster never should.
    """

    principal: str
    purpose: str
    writes: tuple[TopicSpec, ...] = ()
    reads: tuple[TopicSpec, ...] = ()
    group_prefix: str | None = None
    operator: bool = False
    sandbox: tuple[Operation, ...] = ()
    development_only: bool = False

    def bindings(self) -> list[Binding]:
        """The ACLs this row grants."""
        out: list[Binding] = []

        def grant(resource: Resource, name: str, op: Operation,
                  pattern: Pattern = Pattern.LITERAL) -> None:
            out.append(Binding(self.principal, resource, name, pattern, op))

        for spec in self.writes:
            grant(Resource.TOPIC, spec.name, Operation.WRITE)
        for spec in self.reads:
            grant(Resource.TOPIC, spec.name, Operation.READ)
        if self.group_prefix is not None:
            grant(Resource.GROUP, self.group_prefix, Operation.READ, Pattern.PREFIXED)
        if self.operator:
            grant(Resource.CLUSTER, "kafka-cluster", Operation.CREATE)
            grant(Resource.CLUSTER, "kafka-cluster", Operation.DESCRIBE)
            grant(Resource.TOPIC, "commande.", Operation.DESCRIBE, Pattern.PREFIXED)
            grant(Resource.TOPIC, "commande.", Operation.DESCRIBE_CONFIGS, Pattern.PREFIXED)
            grant(Resource.TOPIC, "commande.", Operation.ALTER_CONFIGS, Pattern.PREFIXED)
            grant(Resource.TOPIC, "commande.", Operation.CREATE, Pattern.PREFIXED)
            grant(Resource.GROUP, "*", Operation.DESCRIBE)
            grant(Resource.TOPIC, DLQ.name, Operation.READ)
        for op in self.sandbox:
            grant(Resource.TOPIC, SANDBOX_PREFIX, op, Pattern.PREFIXED)
        return sorted(set(out))


SERVICES: tuple[Access, ...] = (
    Access(
        "intake", "the intake service: Filter 1, the vault, disclosures, event requests",
        writes=(REFERRALS, REFERRALS_URGENT, REFERRAL_STATUS, SITUATIONS, SITUATIONS_URGENT,
                DISCLOSURES, EVENT_REQUEST_SUBMISSIONS, EVENT_REQUESTS, DLQ),
        reads=(REFERRALS, REFERRALS_URGENT, SITUATIONS, EVENT_REQUEST_SUBMISSIONS),
        group_prefix="intake",
    ),
    Access(
        "convening", "the convening service: tables, meetings, the Four Filters, timers",
        writes=(SITUATIONS, MEETINGS, MEETINGS_URGENT, DLQ),
        reads=(SITUATIONS, SITUATIONS_URGENT, TABLE_ACTIONS),
        group_prefix="convening",
    ),
    Access(
        "notifier", "the notifier service: e-mail and webhooks at each recipient's level",
        writes=(NOTICES, DLQ),
        reads=(MEETINGS, MEETINGS_URGENT, SITUATIONS, DISCLOSURES, REFERRAL_STATUS,
               TABLE_ACTIONS, EVENT_REQUEST_SUBMISSIONS, EVENT_REQUESTS),
        group_prefix="notifier",
    ),
    Access(
        # DISCLOSURES: the console hands each sealed package to its recipient agency's signed-in
        # contact, whose browser opens it (the gateway holds ciphertext it cannot open).
        "gateway", "the gateway: the only writer of people's commands, with the verified actor",
        writes=(TABLE_ACTIONS, EVENT_REQUEST_SUBMISSIONS, DLQ),
        reads=(SITUATIONS, MEETINGS, EVENT_REQUESTS, NOTICES, DISCLOSURES),
        group_prefix="gateway",
    ),
    Access(
        "analytics", "analysts' replays: de-identified topics only, read-only, no group",
        reads=(SITUATIONS, MEETINGS, NOTICES, EVENT_REQUESTS, REFERRAL_STATUS),
        sandbox=(Operation.READ,),
    ),
    Access(
        "operator", "engineers on call: topics, consumer lag, dead letters",
        operator=True,
    ),
    Access(
        "simulator", "synthetic histories for tests and benchmarks (sandbox. copies only)",
        sandbox=(Operation.CREATE, Operation.WRITE, Operation.READ, Operation.DESCRIBE),
        development_only=True,
    ),
)
"""Every principal but the partners'."""


def partner(agency_id: str) -> Access:
    """The row of a partner agency that publishes referrals over Kafka: it writes referrals (an
    urgent one on the urgent lane) and
    reads the answers (every agency's, keyed by opaque references: a topic ACL cannot filter by
    key), and nothing else."""
    return Access(f"{PARTNER_PREFIX}{agency_id}", f"partner agency {agency_id}",
                  writes=(REFERRALS, REFERRALS_URGENT), reads=(REFERRAL_STATUS,))


def table(agency_ids: Iterable[str], *, development: bool) -> tuple[Access, ...]:
    """The whole table for a directory's agencies (development rows only when ``development``)."""
    rows = [row for row in SERVICES if development or not row.development_only]
    rows.extend(partner(agency) for agency in sorted(set(agency_ids)))
    return tuple(rows)


def bindings(rows: Iterable[Access]) -> list[Binding]:
    """Every ACL of ``rows``, sorted (the set a broker must hold, no more)."""
    return sorted({b for row in rows for b in row.bindings()})


def acl_commands(rows: Iterable[Access], bootstrap: str = "<bootstrap>",
                 config: str = "<admin.properties>") -> list[str]:
    """``kafka-acls.sh`` lines a cluster admin runs to apply ``rows`` (one per principal and
    resource pattern, operations grouped)."""
    grouped: dict[tuple[str, Resource, str, Pattern], list[Operation]] = {}
    for b in bindings(rows):
        grouped.setdefault((b.principal, b.resource, b.name, b.pattern), []).append(b.operation)
    lines = []
    for (principal, resource, name, pattern), ops in grouped.items():
        target = {Resource.TOPIC: f"--topic '{name}'", Resource.GROUP: f"--group '{name}'",
                  Resource.CLUSTER: "--cluster"}[resource]
        pattern_opt = " --resource-pattern-type prefixed" if pattern is Pattern.PREFIXED else ""
        op_opts = " ".join(f"--operation {op.value}" for op in ops)
        lines.append(f"kafka-acls.sh --bootstrap-server {bootstrap} --command-config {config} "
                     f"--add --allow-principal User:{principal} {op_opts} {target}{pattern_opt}")
    return lines
