"""The embedded Apache Kafka broker: KRaft, jars resolved by Maven, run on the JDK.

One combined broker and controller node per server of ``COMMANDE_KAFKA_BOOTSTRAP``: the embedded
stack's one node (``127.0.0.1:19092``, its folder ``.state/kafka/``), or a throwaway cluster for
fault tests (``127.0.0.1:A,127.0.0.1:B,127.0.0.1:C``: node ids 1, 2, 3, a three-voter quorum,
each node in ``.state/kafka/node-<id>/``). Every node listens on its port, its controller on the
port after it; all share the stack's CA, server certificate and credentials.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from deploy.local import kafka_security, procs
from schemas.errors import ConfigurationError
from services.runtime.settings import Settings

POM = Path(__file__).with_name("pom.xml")
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
HEAP = "-Xms256m -Xmx512m"


@dataclass(frozen=True, slots=True)
class KafkaPaths:
    """Where the broker's jars, data, configuration, log and pid live."""

    libs: Path
    home: Path

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def config(self) -> Path:
        return self.home / "server.properties"

    @property
    def log(self) -> Path:
        return self.home / "kafka.log"

    @property
    def pid(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def cluster_id(self) -> Path:
        return self.home / "cluster.id"

    @property
    def listener(self) -> Path:
        """Which client listener the data folder was formatted for (SASL_SSL or PLAINTEXT)."""
        return self.home / "listener"


@dataclass(frozen=True, slots=True)
class Node:
    """One combined broker and controller node of the embedded cluster."""

    node_id: int
    port: int
    """Its client listener (SASL_SSL); the controller listens on the next port."""
    paths: KafkaPaths

    @property
    def controller_port(self) -> int:
        return self.port + 1


def cluster(settings: Settings) -> list[Node]:
    """The nodes these settings call for: one per server of ``COMMANDE_KAFKA_BOOTSTRAP``."""
    libs = settings.cache_dir / f"kafka-{settings.kafka_version}" / "libs"
    ports = kafka_security.listener_ports(settings)
    if len(ports) == 1:
        return [Node(1, ports[0], KafkaPaths(libs=libs, home=settings.kafka_state))]
    hosts = {s.strip().rsplit(":", 1)[0] for s in settings.kafka_bootstrap.split(",") if s.strip()}
    if not hosts <= {"127.0.0.1", "localhost"} or len(set(ports)) != len(ports):
        raise ConfigurationError(
            f"COMMANDE_KAFKA_BOOTSTRAP={settings.kafka_bootstrap}: the embedded stack runs one "
            "node per server, all on 127.0.0.1, each on a port of its own (its controller on the "
            "port after it); list 127.0.0.1:<port> servers, or point the services at a cluster "
            "you run without `commande stack up`")
    return [Node(i, port, KafkaPaths(libs=libs, home=settings.kafka_state / f"node-{i}"))
            for i, port in enumerate(ports, start=1)]


def paths(settings: Settings) -> KafkaPaths:
    """The (first) node's paths for these settings (jars in the cache, the rest in the state
    folder)."""
    return cluster(settings)[0].paths


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise ConfigurationError(
            "no Java found: the Kafka broker needs a JDK 17 or newer "
            "(Debian: apt-get install -y openjdk-17-jre-headless)"
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)', out)
    if match is None or int(match.group(1)) < 17:
        raise ConfigurationError(f"Kafka 4.x needs Java 17 or newer; `java -version` says: {out!r}")
    return java


def resolve_jars(settings: Settings) -> Path:
    """Resolve the broker's jars with Maven into the cache (once); returns the libs folder."""
    kp = KafkaPaths(libs=settings.cache_dir / f"kafka-{settings.kafka_version}" / "libs",
                    home=settings.kafka_state)
    marker = kp.libs / ".complete"
    if marker.exists():
        return kp.libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ConfigurationError(
            "no Maven found: it resolves the Kafka jars from Maven Central "
            "(Debian: apt-get install -y maven)"
        )
    kp.libs.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [mvn, "-q", "-B", "-f", str(POM), f"{DEPENDENCY_PLUGIN}:copy-dependencies",
         "-DincludeScope=runtime", f"-DoutputDirectory={kp.libs}",
         f"-Dkafka.version={settings.kafka_version}"],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr)[-2000:]
        if re.search(r"UnknownHost|Could not transfer|Connection refused|timed out", output):
            raise ConfigurationError(
                "Maven could not reach Maven Central to download the Kafka jars; check the network "
                f"or a proxy in ~/.m2/settings.xml. Maven said:\n{output}"
            )
        raise ConfigurationError(f"Maven failed to resolve the Kafka jars:\n{output}")
    marker.write_text(settings.kafka_version + "\n")
    return kp.libs


def properties(settings: Settings, node: Node, nodes: list[Node]) -> dict[str, str]:
    """``node``'s ``server.properties`` in a cluster of ``nodes`` (with SASL_SSL, the stack's
    passwords are read, made the first time)."""
    kp = node.paths
    port, cport = node.port, node.controller_port
    # Internal topics replicated to every node (at most 3), min ISR a majority: 1 and 1 alone.
    replicas = min(len(nodes), 3)
    min_isr = str(replicas // 2 + 1)
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        **({"controller.quorum.bootstrap.servers": f"127.0.0.1:{cport}"} if len(nodes) == 1 else
           {"controller.quorum.voters": ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}"
                                                 for n in nodes)}),
        "controller.listener.names": "CONTROLLER",
        "log.dirs": str(kp.data),
        "num.partitions": "6",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": str(replicas),
        "offsets.topic.num.partitions": "6",
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": min_isr,
        "default.replication.factor": str(replicas),
        "min.insync.replicas": min_isr,
        "group.initial.rebalance.delay.ms": "0",
        "message.max.bytes": "4194304",
        "log.segment.bytes": "104857600",
    }
    if settings.kafka_security_protocol == "SASL_SSL":
        props.update(kafka_security.server_properties(settings, port))
    else:  # PLAINTEXT: a throwaway broker for the TLS-cost benchmark only (development)
        props.update({
            "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
        })
    return props


def _write_config(settings: Settings, node: Node, nodes: list[Node]) -> None:
    props = properties(settings, node, nodes)
    fd = os.open(node.paths.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds passwords
    with os.fdopen(fd, "w") as out:
        out.write("".join(f"{k}={v}\n" for k, v in props.items()))


def _check_mode(settings: Settings) -> None:
    protocol = settings.kafka_security_protocol
    if protocol == "SSL":
        raise ConfigurationError(
            "the embedded stack serves SASL_SSL (SCRAM over TLS); mutual TLS (SSL) is for a "
            "managed cluster: set COMMANDE_KAFKA_SECURITY_PROTOCOL=SASL_SSL")
    if protocol == "PLAINTEXT" and not settings.development:
        raise ConfigurationError(
            "a PLAINTEXT broker is for a throwaway benchmark stack only: set "
            "COMMANDE_ENV=development, or COMMANDE_KAFKA_SECURITY_PROTOCOL=SASL_SSL")


def start(settings: Settings, *, wait: float = 60.0) -> str:
    """Start every node that does not run, waiting up to ``wait`` seconds for each; returns a
    line for the status report."""
    nodes = cluster(settings)
    _check_mode(settings)
    down = [n for n in nodes if procs.read_pid(n.paths.pid) is None]
    where = ", ".join(f"127.0.0.1:{n.port}" for n in nodes)
    if not down:
        return f"kafka already running on {where}"
    for n in down:
        procs.require_free(n.port, "Kafka", "COMMANDE_KAFKA_BOOTSTRAP")
        procs.require_free(n.controller_port, "Kafka's controller", "COMMANDE_KAFKA_BOOTSTRAP")
    java = _java()
    libs = resolve_jars(settings)
    settings.kafka_state.mkdir(parents=True, exist_ok=True)
    settings.kafka_state.chmod(0o700)
    cluster_id = settings.kafka_state / "cluster.id"
    if not cluster_id.exists():
        cluster_id.write_text(str(uuid.uuid4()) + "\n")
    notes = [note for n in down if (note := _prepare(settings, n, nodes, java, libs))]
    # Spawn every node before waiting for any: a node of a cluster starts only once a majority
    # of the controller quorum answers.
    for n in down:
        argv = [java, *HEAP.split(), "-XX:+UseSerialGC", "-Djava.awt.headless=true",
                f"-Dkafka.logs.dir={n.paths.home}", "-cp", f"{libs}/*", "kafka.Kafka",
                str(n.paths.config)]
        n.paths.log.write_text("")
        procs.spawn(argv, n.paths.log, n.paths.pid)
    for n in down:
        _wait_started(n, wait)
    started = where if len(down) == len(nodes) else ", ".join(
        f"node {n.node_id} (127.0.0.1:{n.port})" for n in down)
    return (f"kafka {settings.kafka_version} started on {started} "
            f"({settings.kafka_security_protocol}){''.join(notes)}")


def _prepare(settings: Settings, node: Node, nodes: list[Node], java: str, libs: Path) -> str:
    """Write ``node``'s configuration and format its storage if new; returns a note ('' or why
    its data was reset)."""
    kp = node.paths
    kp.home.mkdir(parents=True, exist_ok=True)
    kp.home.chmod(0o700)
    protocol = settings.kafka_security_protocol
    note = ""
    if kp.data.exists() and (not kp.listener.exists() or kp.listener.read_text().strip() != protocol):
        # A broker formatted for another listener (an older plaintext stack): its users and
        # ACLs would not match. The embedded stack's data is disposable; start it afresh.
        shutil.rmtree(kp.data)
        (settings.kafka_state / "security.applied").unlink(missing_ok=True)
        note = f" (its data was reset: it had been formatted for another listener than {protocol})"
    _write_config(settings, node, nodes)
    if not (kp.data / "meta.properties").exists():
        # New storage holds no principals or ACLs yet (one node's, or another layout's in the
        # same state folder): apply the table again, whatever the marker says.
        (settings.kafka_state / "security.applied").unlink(missing_ok=True)
        scram = kafka_security.format_args(settings) if protocol == "SASL_SSL" else []
        # One node: a dynamic quorum of itself (--standalone). Several: the static voters of
        # controller.quorum.voters, the same SCRAM bootstrap records on each.
        quorum = ["--standalone"] if len(nodes) == 1 else []
        fmt = subprocess.run(
            [java, "-cp", f"{libs}/*", "kafka.tools.StorageTool", "format",
             f"--cluster-id={_cluster_id(settings)}", "-c", str(kp.config), *quorum, *scram],
            capture_output=True, text=True, check=False,
        )
        if fmt.returncode != 0:
            raise ConfigurationError(f"formatting Kafka's storage failed:\n{fmt.stdout}{fmt.stderr}")
        kp.listener.write_text(protocol + "\n")
    return note


def apply_security(settings: Settings) -> str | None:
    """Apply the principals and ACL table to the running broker (``None``: already applied)."""
    if settings.kafka_security_protocol != "SASL_SSL":
        return None
    return kafka_security.apply(settings, _java(), resolve_jars(settings))


def _cluster_id(settings: Settings) -> str:
    # Kafka wants a base64url UUID of 22 characters. It may start with "-", so callers pass it
    # as ``--cluster-id=<id>`` (a separate argument would be read as an option).
    import base64

    raw = uuid.UUID((settings.kafka_state / "cluster.id").read_text().strip()).bytes
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _wait_started(node: Node, timeout: float = 60.0) -> None:
    kp = node.paths
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = procs.read_pid(kp.pid)
        if pid is None:
            raise ConfigurationError(f"the Kafka broker exited at start; its log ends:\n{procs.tail(kp.log)}")
        if "Kafka Server started" in kp.log.read_text(errors="replace") and procs.port_open(node.port):
            return
        time.sleep(0.2)
    raise ConfigurationError(
        f"the Kafka broker did not start within {timeout:.0f}s; its log ends:\n{procs.tail(kp.log)}"
    )


def stop(settings: Settings) -> str:
    """Stop the nodes we started (and nothing else)."""
    nodes = cluster(settings)
    stopped = sum(procs.stop_pid(n.paths.pid, timeout=30) for n in nodes)
    if not stopped:
        return "kafka was not running"
    return "kafka stopped" if len(nodes) == 1 else f"kafka stopped ({stopped} of {len(nodes)} nodes ran)"


def status(settings: Settings) -> str:
    """One line: whether the broker runs, where, with which version (a cluster: each node)."""
    nodes = cluster(settings)
    if len(nodes) > 1:
        each = [f"node {n.node_id} 127.0.0.1:{n.port} "
                + (f"pid {pid}" if (pid := procs.read_pid(n.paths.pid)) is not None else "stopped")
                for n in nodes]
        running = sum("pid" in e for e in each)
        return (f"kafka       {'running' if running else 'stopped'}  {running} of {len(nodes)} "
                f"nodes ({'; '.join(each)})  Apache Kafka {settings.kafka_version} (KRaft)")
    kp = nodes[0].paths
    pid = procs.read_pid(kp.pid)
    if pid is None:
        return "kafka       stopped"
    listener = kp.listener.read_text().strip() if kp.listener.exists() else "?"
    return (f"kafka       running  pid {pid}  127.0.0.1:{settings.kafka_port} ({listener})  "
            f"Apache Kafka {settings.kafka_version} (KRaft)  log {kp.log}")
