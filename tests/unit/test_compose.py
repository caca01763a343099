"""deploy/compose.yaml, checked by reading (no Docker engine here): it parses; the SMTP sink
listens where the other containers reach it; the services take their secrets from the documented
env file, which names every secret and only settings that exist; and Kafka runs on what
kafka-init makes (deploy/local/compose.py): SASL_SSL only, SCRAM, the authorizer, the listeners
the containers and the host use, a certificate for the names they connect to."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from cryptography import x509

from deploy.local import compose, smtp_sink
from services.runtime.settings import PROJECT_ROOT
from tests.support.setting_names import defined, settings_fields

pytestmark = pytest.mark.unit
DEPLOY = PROJECT_ROOT / "deploy"
LINE = re.compile(r"^(#\s*)?(COMMANDE_[A-Z0-9_]+)=(.*)$")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def _env_file() -> dict[str, tuple[bool, str]]:
    """``{name: (set, value)}`` of every COMMANDE_ line of the example, commented ones too."""
    found = {}
    for line in (DEPLOY / "compose.env.example").read_text().splitlines():
        match = LINE.match(line.strip())
        if match:
            found[match.group(2)] = (match.group(1) is None, match.group(3))
    return found


def _secrets() -> set[str]:
    """Every setting holding a secret (a SecretStr, alone or in a mapping), in any settings class."""
    return {name for name, field in settings_fields() if "SecretStr" in repr(field.annotation)}


def _strings(node: object) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) else []


def test_the_smtp_sink_listens_where_the_services_reach_it(spec: dict[str, Any]) -> None:
    smtp, services = spec["services"]["smtp"], spec["services"]["services"]
    args = smtp_sink.arguments().parse_args(smtp["command"][3:])  # after python -m module
    assert args.host not in {"127.0.0.1", "localhost"}, "other containers cannot reach loopback"
    env = services["environment"]
    assert env["COMMANDE_SMTP_HOST"] == "smtp"
    assert int(env["COMMANDE_SMTP_PORT"]) == args.port
    assert smtp["ports"] == [f"127.0.0.1:{args.port}:{args.port}"]
    assert args.tls_pem == Path("/state/kafka/tls/server.pem"), "STARTTLS, as the services require"


def test_the_services_take_their_secrets_from_the_documented_env_file(
        spec: dict[str, Any]) -> None:
    services = spec["services"]["services"]
    assert services["env_file"] == ["compose.env"]
    example = _env_file()
    assert set(example) <= defined(), "the example names a setting that does not exist"
    missing = _secrets() - set(example)
    assert not missing, f"secrets the example does not name: {sorted(missing)}"
    given = {name for name, (is_set, _) in example.items() if is_set}
    assert given == {"COMMANDE_ENV", "COMMANDE_DATABASE_URL"}, "a secret has a value in the example"
    assert urlsplit(example["COMMANDE_DATABASE_URL"][1]).password is None, "a password in the URL"
    # environment: beats env_file; a name in both would silently ignore the operator's value
    assert not set(services["environment"]) & set(example)
    assert "deploy/compose.env\n" in (PROJECT_ROOT / ".gitignore").read_text()


def test_kafka_runs_secured_on_what_kafka_init_makes(spec: dict[str, Any], tmp_path: Path) -> None:
    made = set(compose.prepare(tmp_path))
    props = dict(line.split("=", 1) for line in
                 (tmp_path / "kafka" / "server.properties").read_text().splitlines())
    # the files compose.yaml's commands read exist
    wanted = {"kafka/cluster-id", "kafka/credentials/admin.password", "kafka/server.properties",
              "kafka/admin-client.properties", "kafka/security.spec", "kafka/tls/server.pem",
              "kafka/tls/ca.pem", "kafka/credentials/operator.password",
              *(f"kafka/credentials/{s}.password" for s in ("intake", "convening", "notifier",
                                                              "gateway"))}
    assert wanted <= made
    used = {path for text in _strings(spec) for path in re.findall(r"/state/(kafka/[\w./-]+)", text)}
    assert set(used) <= made, f"compose.yaml reads what kafka-init does not write: {set(used) - made}"
    # secured as the embedded stack: no plaintext listener, SCRAM, the authorizer, deny by default
    protocols = dict(p.split(":") for p in props["listener.security.protocol.map"].split(","))
    assert protocols == {"CONTROLLER": "SASL_PLAINTEXT", "SASL_SSL": "SASL_SSL", "EXTERNAL": "SASL_SSL"}
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    # reached as the services and the host are told to
    services, kafka = spec["services"]["services"], spec["services"]["kafka"]
    assert f"SASL_SSL://{services['environment']['COMMANDE_KAFKA_BOOTSTRAP']}" in props[
        "advertised.listeners"]
    assert f"EXTERNAL://127.0.0.1:{compose.HOST_PORT}" in props["advertised.listeners"]
    assert kafka["ports"] == [f"127.0.0.1:{compose.HOST_PORT}:{compose.HOST_PORT}"]
    pem = (tmp_path / "kafka" / "tls" / "server.pem").read_bytes()
    cert = x509.load_pem_x509_certificates(pem)[0]
    names = set(cert.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName))
    assert {"kafka", "smtp", "localhost"} <= names
    # every container that reads the state volume may (group 10001), and nobody else may
    for name, service in spec["services"].items():
        if any(str(v).startswith("state:") for v in service.get("volumes", [])) and name != "kafka-init":
            assert service.get("group_add") == [str(compose.GROUP)], name
    modes = {p.stat().st_mode & 0o777 for p in (tmp_path / "kafka").rglob("*") if p.is_file()}
    assert modes == {0o640}


def test_the_env_file_and_the_stack_state_stay_out_of_the_images() -> None:
    """The images COPY deploy/ whole: the filled-in env file must not ride along."""
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
    assert {"deploy/compose.env", ".state/"} <= set(ignored)
