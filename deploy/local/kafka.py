"""The embedded Apache Kafka broker: KRaft, one node, jars resolved by Maven, run on the JDK."""

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


def paths(settings: Settings) -> KafkaPaths:
    """The broker's paths for these settings (jars in the cache, the rest in the state folder)."""
    return KafkaPaths(
        libs=settings.cache_dir / f"kafka-{settings.kafka_version}" / "libs",
        home=settings.state_dir / "kafka",
    )


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
    kp = paths(settings)
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


def _write_config(settings: Settings, kp: KafkaPaths) -> None:
    port = settings.kafka_port
    cport = port + 1
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{cport}",
        "controller.listener.names": "CONTROLLER",
        "log.dirs": str(kp.data),
        "num.partitions": "6",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "6",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "group.initial.rebalance.delay.ms": "0",
        "message.max.bytes": "4194304",
        "log.segment.bytes": "104857600",
    }
    if settings.kafka_security_protocol == "SASL_SSL":
        props.update(kafka_security.server_properties(settings))
    else:  # PLAINTEXT: a throwaway broker for the TLS-cost benchmark only (development)
        props.update({
            "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
        })
    fd = os.open(kp.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds passwords
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


def start(settings: Settings) -> str:
    """Start the broker unless it runs; returns a line for the status report."""
    kp = paths(settings)
    _check_mode(settings)
    if procs.read_pid(kp.pid) is not None:
        return f"kafka already running on 127.0.0.1:{settings.kafka_port}"
    procs.require_free(settings.kafka_port, "Kafka", "COMMANDE_KAFKA_BOOTSTRAP")
    procs.require_free(settings.kafka_port + 1, "Kafka's controller", "COMMANDE_KAFKA_BOOTSTRAP")
    java = _java()
    libs = resolve_jars(settings)
    kp.home.mkdir(parents=True, exist_ok=True)
    kp.home.chmod(0o700)
    protocol = settings.kafka_security_protocol
    note = ""
    if kp.data.exists() and (not kp.listener.exists() or kp.listener.read_text().strip() != protocol):
        # A broker formatted for another listener (an older plaintext stack): its users and
        # ACLs would not match. The embedded stack's data is disposable; start it afresh.
        shutil.rmtree(kp.data)
        (kp.home / "security.applied").unlink(missing_ok=True)
        note = f" (its data was reset: it had been formatted for another listener than {protocol})"
    _write_config(settings, kp)
    if not kp.cluster_id.exists():
        kp.cluster_id.write_text(str(uuid.uuid4()) + "\n")
    classpath = f"{libs}/*"
    if not (kp.data / "meta.properties").exists():
        cluster = _cluster_id(kp)
        scram = kafka_security.format_args(settings) if protocol == "SASL_SSL" else []
        fmt = subprocess.run(
            [java, "-cp", classpath, "kafka.tools.StorageTool", "format",
             f"--cluster-id={cluster}", "-c", str(kp.config), "--standalone", *scram],
            capture_output=True, text=True, check=False,
        )
        if fmt.returncode != 0:
            raise ConfigurationError(f"formatting Kafka's storage failed:\n{fmt.stdout}{fmt.stderr}")
        kp.listener.write_text(protocol + "\n")
    argv = [java, *HEAP.split(), "-XX:+UseSerialGC", "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={kp.home}", "-cp", classpath, "kafka.Kafka", str(kp.config)]
    kp.log.write_text("")
    procs.spawn(argv, kp.log, kp.pid)
    _wait_started(settings, kp)
    return (f"kafka {settings.kafka_version} started on 127.0.0.1:{settings.kafka_port} "
            f"({protocol}){note}")


def apply_security(settings: Settings) -> str | None:
    """Apply the principals and ACL table to the running broker (``None``: already applied)."""
    if settings.kafka_security_protocol != "SASL_SSL":
        return None
    return kafka_security.apply(settings, _java(), resolve_jars(settings))


def _cluster_id(kp: KafkaPaths) -> str:
    # Kafka wants a base64url UUID of 22 characters. It may start with "-", so callers pass it
    # as ``--cluster-id=<id>`` (a separate argument would be read as an option).
    import base64

    raw = uuid.UUID(kp.cluster_id.read_text().strip()).bytes
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _wait_started(settings: Settings, kp: KafkaPaths, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = procs.read_pid(kp.pid)
        if pid is None:
            raise ConfigurationError(f"the Kafka broker exited at start; its log ends:\n{procs.tail(kp.log)}")
        if "Kafka Server started" in kp.log.read_text(errors="replace") and procs.port_open(
            settings.kafka_port
        ):
            return
        time.sleep(0.2)
    raise ConfigurationError(
        f"the Kafka broker did not start within {timeout:.0f}s; its log ends:\n{procs.tail(kp.log)}"
    )


def stop(settings: Settings) -> str:
    """Stop the broker we started (and nothing else)."""
    kp = paths(settings)
    if procs.stop_pid(kp.pid, timeout=30):
        return "kafka stopped"
    return "kafka was not running"


def status(settings: Settings) -> str:
    """One line: whether the broker runs, where, with which version."""
    kp = paths(settings)
    pid = procs.read_pid(kp.pid)
    if pid is None:
        return "kafka       stopped"
    listener = kp.listener.read_text().strip() if kp.listener.exists() else "?"
    return (f"kafka       running  pid {pid}  127.0.0.1:{settings.kafka_port} ({listener})  "
            f"Apache Kafka {settings.kafka_version} (KRaft)  log {kp.log}")
