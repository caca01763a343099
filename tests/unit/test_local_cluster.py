"""The embedded stack's Kafka nodes: one per server of COMMANDE_KAFKA_BOOTSTRAP. One server is
the embedded stack as it always was; three make a throwaway cluster (each node its own ports,
folder and id, a three-voter quorum, internal topics replicated three times)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local import kafka, stack
from schemas.errors import ConfigurationError
from services.runtime import kafka_client
from services.runtime.settings import Settings

pytestmark = pytest.mark.unit
STATE = Path("/nonexistent/commande-state")


def _settings(bootstrap: str, **more: object) -> Settings:
    # PLAINTEXT keeps properties() from reading the stack's passwords: nothing touches a disk.
    return Settings(env="development", kafka_bootstrap=bootstrap, state_dir=STATE,
                    kafka_security_protocol="PLAINTEXT", **more)  # type: ignore[arg-type]


def test_one_server_is_the_embedded_single_node_in_its_usual_folder() -> None:
    settings = _settings("127.0.0.1:19092")
    node, = kafka.cluster(settings)
    assert (node.node_id, node.port, node.controller_port) == (1, 19092, 19093)
    assert node.paths.home == STATE / "kafka" == kafka.paths(settings).home
    props = kafka.properties(settings, node, [node])
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert "controller.quorum.voters" not in props
    assert props["offsets.topic.replication.factor"] == props["min.insync.replicas"] == "1"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"


def test_three_servers_are_three_nodes_with_a_three_voter_quorum() -> None:
    settings = _settings("127.0.0.1:31000, 127.0.0.1:31010,localhost:31020")
    nodes = kafka.cluster(settings)
    assert [(n.node_id, n.port, n.paths.home.name) for n in nodes] == [
        (1, 31000, "node-1"), (2, 31010, "node-2"), (3, 31020, "node-3")]
    for node in nodes:
        props = kafka.properties(settings, node, nodes)
        assert props["node.id"] == str(node.node_id)
        assert props["controller.quorum.voters"] == (
            "1@127.0.0.1:31001,2@127.0.0.1:31011,3@127.0.0.1:31021")
        assert "controller.quorum.bootstrap.servers" not in props
        assert props["listeners"] == (
            f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.port + 1}")
        assert props["log.dirs"] == str(STATE / "kafka" / f"node-{node.node_id}" / "data")
        assert props["offsets.topic.replication.factor"] == "3"
        assert props["transaction.state.log.min.isr"] == props["min.insync.replicas"] == "2"


@pytest.mark.parametrize("bootstrap", ["10.0.0.5:9092,10.0.0.6:9092",
                                       "127.0.0.1:31000,127.0.0.1:31000"])
def test_a_cluster_elsewhere_or_on_one_port_twice_is_refused_naming_the_setting(
        bootstrap: str) -> None:
    with pytest.raises(ConfigurationError, match="COMMANDE_KAFKA_BOOTSTRAP"):
        kafka.cluster(_settings(bootstrap))


def test_more_replicas_than_nodes_is_refused_before_anything_starts() -> None:
    settings = _settings("127.0.0.1:31000,127.0.0.1:31010", kafka_replication_factor=3)
    with pytest.raises(ConfigurationError, match=r"COMMANDE_KAFKA_REPLICATION_FACTOR is 3 .* 2 "):
        stack.preflight(settings, identity_provider=False)


def test_clients_get_every_bootstrap_server_as_a_list() -> None:
    """FastStream hands a string to aiokafka as one server: the list must be split first."""
    settings = _settings(" 127.0.0.1:31000, 127.0.0.1:31010,,127.0.0.1:31020 ")
    servers = ["127.0.0.1:31000", "127.0.0.1:31010", "127.0.0.1:31020"]
    assert kafka_client.bootstrap_servers(settings) == servers
    assert kafka_client.connection(settings, "intake")["bootstrap_servers"] == servers


def test_the_embedded_stack_refuses_to_start_in_production_naming_the_setting() -> None:
    settings = Settings(env="production", state_dir=STATE)
    with pytest.raises(ConfigurationError, match="COMMANDE_ENV=development commande stack up"):
        stack.preflight(settings, identity_provider=False)
