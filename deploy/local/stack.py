"""``commande stack up | down | status | mail``: the embedded default stack for one machine."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from deploy.local import kafka, keycloak, postgres, procs
from deploy.local.kafka_security import SUPER_USER, ensure_tls
from deploy.local.smtp_sink import read_messages
from schemas.errors import ConfigurationError
from services.runtime.settings import Settings
from services.runtime.tls import stack_server_pem
from services.runtime.topics import reconcile


def _smtp_pid(settings: Settings) -> Path:
    return settings.state_dir / "smtp" / "smtp.pid"


def start_smtp(settings: Settings) -> str:
    """Start the SMTP sink unless it runs."""
    pid_file = _smtp_pid(settings)
    if procs.read_pid(pid_file) is not None:
        return f"smtp sink already running on 127.0.0.1:{settings.smtp_port}"
    procs.require_free(settings.smtp_port, "the SMTP sink", "COMMANDE_SMTP_PORT")
    log = pid_file.with_name("smtp.log")
    procs.spawn(
        [sys.executable, "-m", "deploy.local.smtp_sink", "--port", str(settings.smtp_port),
         "--maildir", str(settings.mail_dir), "--tls-pem", str(stack_server_pem(settings))],
        log, pid_file,
    )
    deadline = time.monotonic() + 15
    while not procs.port_open(settings.smtp_port):
        if procs.read_pid(pid_file) is None or time.monotonic() > deadline:
            raise ConfigurationError(f"the SMTP sink did not start:\n{procs.tail(log)}")
        time.sleep(0.1)
    return (f"smtp sink started on 127.0.0.1:{settings.smtp_port} (STARTTLS required; mail kept "
            f"in {settings.mail_dir})")


def up(settings: Settings, *, identity_provider: bool = True) -> list[str]:
    """Bring up PostgreSQL, Kafka and the SMTP sink, create the topics, then Keycloak with the
    realm of synthetic sign-ins; harmless twice.

    Every port is checked before anything starts, so a taken port fails fast and starts nothing.
    ``identity_provider=False`` leaves Keycloak out (a throwaway stack for fault tests).
    """
    preflight(settings, identity_provider=identity_provider)
    ensure_tls(settings)  # the stack's CA and server certificate: the broker and the SMTP sink
    lines = [postgres.start(settings), kafka.start(settings), start_smtp(settings)]
    applied = kafka.apply_security(settings)
    if applied is not None:
        lines.append(f"kafka security: {applied}")
    created, drifted = asyncio.run(reconcile(settings, SUPER_USER, fix=True))
    lines.append(f"topics: {len(created)} created" + (f" ({', '.join(created)})" if created else
                                                       ", all present"))
    lines.extend(f"topic {d.topic}: {d.setting} {d.have} -> {d.want}"
                 + ("" if d.fixable else " (not changed: recreate the stack's data to apply)")
                 for d in drifted)
    if identity_provider:
        lines.append(keycloak.start(settings))
    return lines


def preflight(settings: Settings, *, identity_provider: bool = True) -> None:
    """Fail with the fix if a port we would start on is taken by something else, or a cluster
    of N Kafka nodes is asked for more replicas than N; refuse outside development (its
    passwords, CA and sign-ins are local throwaways)."""
    if not settings.development:
        raise ConfigurationError(
            "the embedded stack is for development, the demo and the tests, and COMMANDE_ENV is "
            "not 'development': run it as `COMMANDE_ENV=development commande stack up` (make "
            "stack, make demo and make test set it); production connects to its own Kafka, "
            "PostgreSQL, SMTP relay and identity provider (docs/operations.md)")
    nodes = kafka.cluster(settings)
    if len(nodes) > 1 and settings.replication_factor > len(nodes):
        raise ConfigurationError(
            f"COMMANDE_KAFKA_REPLICATION_FACTOR is {settings.replication_factor} but the embedded "
            f"cluster runs {len(nodes)} Kafka nodes, one per server of COMMANDE_KAFKA_BOOTSTRAP: "
            "lower the setting or list as many servers as replicas")
    if not postgres.running(settings):
        procs.require_free(settings.database_port, "PostgreSQL", "COMMANDE_DATABASE_URL")
    for node in nodes:
        if procs.read_pid(node.paths.pid) is None:
            procs.require_free(node.port, "Kafka", "COMMANDE_KAFKA_BOOTSTRAP")
            procs.require_free(node.controller_port, "Kafka's controller", "COMMANDE_KAFKA_BOOTSTRAP")
    if procs.read_pid(_smtp_pid(settings)) is None:
        procs.require_free(settings.smtp_port, "the SMTP sink", "COMMANDE_SMTP_PORT")
    if identity_provider and procs.read_pid(keycloak.paths(settings).pid) is None:
        procs.require_free(settings.keycloak_port, "Keycloak", "COMMANDE_KEYCLOAK_PORT")


def down(settings: Settings) -> list[str]:
    """Stop what ``up`` started, and nothing else."""
    smtp = "smtp sink stopped" if procs.stop_pid(_smtp_pid(settings)) else "smtp sink was not running"
    return [keycloak.stop(settings), smtp, kafka.stop(settings), postgres.stop(settings)]


def status(settings: Settings) -> list[str]:
    """What runs where."""
    pid = procs.read_pid(_smtp_pid(settings))
    smtp = (f"smtp sink   running  pid {pid}  127.0.0.1:{settings.smtp_port}  "
            f"{len(read_messages(settings.mail_dir))} messages in {settings.mail_dir}"
            if pid is not None else "smtp sink   stopped")
    return [postgres.status(settings), kafka.status(settings), smtp, keycloak.status(settings)]
