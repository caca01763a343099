"""What ``deploy/compose.yaml``'s secured Kafka needs before it starts, made by its one-shot
``kafka-init`` (``python -m deploy.local.compose /state``, in the services' image, into the
``state`` volume), with the embedded stack's own code:

* ``kafka/tls/``: the stack's CA, and the server certificate the broker and the SMTP sink present,
  for the names the containers use (``kafka``, ``smtp``) besides ``localhost`` and ``127.0.0.1``;
* ``kafka/credentials/``: a random SCRAM password per principal of the ACL table, the broker's
  super user's and the controller's (the services read their own in development, as on the
  embedded stack);
* ``kafka/server.properties``: the embedded broker's configuration (SASL_SSL with SCRAM-SHA-512,
  the controller listener authenticated, the authorizer denying what no ACL allows) with the
  listeners of the compose network: ``kafka:9092`` for the containers, ``127.0.0.1:19092``
  published to the host, the controller on ``localhost:9093`` (a static quorum of itself);
* ``kafka/cluster-id``, ``kafka/admin-client.properties`` and ``kafka/security.spec`` (the
  principals and the ACL table of :mod:`schemas.access`, for ``KafkaSecurity.java``).

Every file is readable by its owner and the group :data:`GROUP` only (0640, folders 0750): the
containers that need them get that group (``group_add``). A second run keeps every key and
password (remove the volume to start over); the configuration is written again.
"""

from __future__ import annotations

import base64
import os
import sys
import uuid
from pathlib import Path

from deploy.local import kafka, kafka_security
from services.runtime.settings import Settings

GROUP = 10001
"""The group of compose's containers that read the state volume (``group_add`` in compose.yaml)."""
BROKER = "kafka:9092"
"""The broker as the containers reach it (``COMMANDE_KAFKA_BOOTSTRAP`` in compose.yaml)."""
HOST_PORT = 19092
"""The listener published to the host's 127.0.0.1, as the embedded stack's."""
HOSTS = ("kafka", "smtp")
"""Compose service names the server certificate is valid for."""
DATA = "/var/lib/kafka/data"
"""The broker's data folder in the apache/kafka image (the ``kafka-data`` volume)."""


def settings_for(state: Path) -> Settings:
    """The settings the compose stack's Kafka is made with: development, state in ``state``."""
    return Settings(env="development", state_dir=state, kafka_bootstrap=BROKER,
                    kafka_security_protocol="SASL_SSL")


def broker_properties(settings: Settings) -> dict[str, str]:
    """The embedded broker's properties, with the compose network's listeners."""
    node, = kafka.cluster(settings)
    props = kafka.properties(settings, node, [node])
    del props["controller.quorum.bootstrap.servers"]
    port = BROKER.rsplit(":", 1)[1]
    props.update({
        "controller.quorum.voters": "1@localhost:9093",
        "log.dirs": DATA,
        "listeners": f"SASL_SSL://0.0.0.0:{port},EXTERNAL://0.0.0.0:{HOST_PORT},"
                     "CONTROLLER://localhost:9093",
        "advertised.listeners": f"SASL_SSL://{BROKER},EXTERNAL://127.0.0.1:{HOST_PORT}",
        "listener.security.protocol.map": "CONTROLLER:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,"
                                          "EXTERNAL:SASL_SSL",
        "listener.name.external.scram-sha-512.sasl.jaas.config":
            props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"],
    })
    return props


def prepare(state: Path) -> list[str]:
    """Make (or keep) everything the module docstring lists under ``state``; returns what was
    written."""
    settings = settings_for(state)
    home = settings.kafka_state
    kafka_security.ensure_tls(settings, HOSTS)
    cluster_id = home / "cluster-id"
    if not cluster_id.exists():
        cluster_id.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=") + "\n")
    files = {
        "server.properties": broker_properties(settings),
        "admin-client.properties": {**kafka_security.admin_client(settings),
                                    "bootstrap.servers": BROKER},
    }
    for name, props in files.items():
        _write(home / name, "".join(f"{k}={v}\n" for k, v in props.items()))
    _write(home / "security.spec", kafka_security.spec(settings))  # every principal's password
    _share(home)
    return sorted(str(p.relative_to(state)) for p in home.rglob("*") if p.is_file())


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def _share(home: Path) -> None:
    """Owner and :data:`GROUP` may read (the group set when we may: root in the container)."""
    for path in [home, *home.rglob("*")]:
        path.chmod(0o750 if path.is_dir() else 0o640)
        if os.geteuid() == 0:
            os.chown(path, 0, GROUP)


def main() -> None:
    """``python -m deploy.local.compose STATE``."""
    if len(sys.argv) != 2:
        sys.exit("usage: python -m deploy.local.compose STATE_FOLDER   (compose.yaml's kafka-init)")
    state = Path(sys.argv[1])
    for line in prepare(state):
        print(f"kafka-init: {line}")
    print(f"kafka-init: ready (group {GROUP} may read {state / 'kafka'})")


if __name__ == "__main__":
    main()
