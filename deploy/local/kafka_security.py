"""The embedded broker's trust: a private CA and the broker's certificate, a random SCRAM password
per principal, and the ACL table of :mod:`schemas.access` applied by the broker's super user.

Everything lives in the stack's state folder (``.state/kafka/``): ``tls/`` (the CA, whose
certificate clients trust, and the broker's key and chain) and ``credentials/`` (one password
file per principal, mode 0600; the services read their own in development). Nothing is derived
from a seed: a new state folder gets new keys and passwords.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import secrets
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from schemas.access import Access, table
from schemas.errors import ConfigurationError
from services.runtime.kafka_client import credentials_dir
from services.runtime.settings import PROJECT_ROOT, Settings
from services.runtime.tls import stack_ca_file, stack_server_pem, stack_tls_dir

SUPER_USER = "admin"
"""The broker's super user: inter-broker traffic, topic creation and applying the ACL table.
Only the stack uses it (and test harnesses, which stand in for every role)."""
CONTROLLER_USER = "controller"
JAVA_TOOL = Path(__file__).with_name("KafkaSecurity.java")
CERT_DAYS = 825


def ensure_tls(settings: Settings, hosts: tuple[str, ...] = ()) -> None:
    """Make the stack's CA and its server certificate (EC P-256, SAN localhost, 127.0.0.1 and
    the DNS names ``hosts``: compose's service names), which the broker and the SMTP sink
    present, once."""
    folder = stack_tls_dir(settings)
    older = folder / "broker.pem"  # its name before the SMTP sink presented it too
    if older.exists() and not stack_server_pem(settings).exists():
        older.rename(stack_server_pem(settings))
    if stack_server_pem(settings).exists() and stack_ca_file(settings).exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "commande embedded stack"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "commande local CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            *(x509.DNSName(host) for host in hosts)]),
            critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                              ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    # Unencrypted PKCS#8: what the JDK's PEM keystore reads (it fails on PBES2 and on SEC1).
    pkcs8 = serialization.PrivateFormat.PKCS8
    _write_private(folder / "ca.key", ca_key.private_bytes(pem, pkcs8, serialization.NoEncryption()))
    _write_private(stack_server_pem(settings),
                   key.private_bytes(pem, pkcs8, serialization.NoEncryption())
                   + cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    stack_ca_file(settings).write_bytes(ca_cert.public_bytes(pem))


def agency_ids(settings: Settings) -> list[str]:
    """The agencies of the directory the stack's services read (one partner principal each)."""
    from directory.loader import load_directory

    path = Path(os.environ.get("COMMANDE_DIRECTORY_PATH")
                or PROJECT_ROOT / "deploy" / "directory" / "halton.yaml")
    return sorted(org.agency_id for org in load_directory(path).organizations)


def principals(settings: Settings) -> tuple[Access, ...]:
    """Every row of the ACL table the embedded stack serves (development rows included)."""
    return table(agency_ids(settings), development=True)


def password_of(settings: Settings, user: str) -> str:
    """``user``'s password, made (random, 0600) the first time it is asked for."""
    folder = credentials_dir(settings)
    path = folder / f"{user}.password"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        _write_private(path, (secrets.token_urlsafe(24) + "\n").encode())
    return path.read_text().strip()


def listener_ports(settings: Settings) -> list[int]:
    """The client port of each node of the embedded stack: one per server of
    ``COMMANDE_KAFKA_BOOTSTRAP`` (its controller listens on the port after it)."""
    servers = [s.strip() for s in settings.kafka_bootstrap.split(",") if s.strip()]
    try:
        return [int(s.rsplit(":", 1)[1]) for s in servers]
    except (IndexError, ValueError):
        raise ConfigurationError(
            f"COMMANDE_KAFKA_BOOTSTRAP={settings.kafka_bootstrap} is not a list of host:port "
            "servers") from None


def server_properties(settings: Settings, port: int | None = None) -> dict[str, str]:
    """The broker settings for SASL_SSL clients and a SASL controller listener (see
    stack-notes: the controller listener needs an authenticated super user too), for the node
    listening on ``port`` (the first server's by default)."""
    admin = password_of(settings, SUPER_USER)
    controller = password_of(settings, CONTROLLER_USER)
    port = settings.kafka_port if port is None else port
    cport = port + 1
    return {
        "listeners": f"SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"SASL_SSL://127.0.0.1:{port}",
        "listener.security.protocol.map": "CONTROLLER:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
        "inter.broker.listener.name": "SASL_SSL",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config":
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{CONTROLLER_USER}" password="{controller}" '
            f'user_{CONTROLLER_USER}="{controller}";',
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{SUPER_USER}" password="{admin}";',
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{SUPER_USER};User:{CONTROLLER_USER}",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(stack_server_pem(settings)),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(stack_ca_file(settings)),
        "ssl.client.auth": "none",
    }


def format_args(settings: Settings) -> list[str]:
    """``StorageTool format`` arguments that create the super user's SCRAM credential."""
    return ["--add-scram",
            f"SCRAM-SHA-512=[name={SUPER_USER},password={password_of(settings, SUPER_USER)}]"]


def spec(settings: Settings) -> str:
    """The principals' credentials and the ACL table, in :file:`KafkaSecurity.java`'s format."""
    rows = principals(settings)
    lines = [f"user\t{row.principal}\t{password_of(settings, row.principal)}" for row in rows]
    for row in rows:
        lines.extend(f"acl\t{b.principal}\t{b.resource.name}\t{b.name}\t{b.pattern.name}\t"
                     f"{b.operation.name}" for b in row.bindings())
    return "\n".join(lines) + "\n"


def apply(settings: Settings, java: str, libs: Path) -> str | None:
    """Make the broker hold exactly the table's principals and ACLs; skipped (``None``) when the
    same table was applied to this broker before."""
    home = settings.kafka_state
    text = spec(settings)
    digest = hashlib.sha256(text.encode()).hexdigest()
    marker = home / "security.applied"
    if marker.exists() and marker.read_text().strip() == digest:
        return None
    spec_file = home / "security.spec"
    client = home / "admin-client.properties"
    _write_private(spec_file, text.encode())
    _write_private(client, "".join(f"{k}={v}\n" for k, v in admin_client(settings).items()).encode())
    try:
        proc = subprocess.run(
            [java, "-cp", f"{libs}/*", str(JAVA_TOOL), str(client), str(spec_file), SUPER_USER],
            capture_output=True, text=True, check=False, timeout=180)
    finally:
        spec_file.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise ConfigurationError(
            "applying the ACL table to the embedded broker failed (it needs a JDK, not only a "
            f"JRE: Debian's openjdk-17-jdk-headless):\n{(proc.stdout + proc.stderr)[-2000:]}")
    marker.write_text(digest + "\n")
    return proc.stdout.strip()


def admin_client(settings: Settings) -> dict[str, str]:
    """Java client properties of the super user (for the broker's own tools)."""
    return {
        "bootstrap.servers": ",".join(f"127.0.0.1:{p}" for p in listener_ports(settings)),
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
                            f'username="{SUPER_USER}" password="{password_of(settings, SUPER_USER)}";',
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(stack_ca_file(settings)),
    }


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
