"""The one place Kafka clients are made: every producer, consumer, admin client and FastStream
broker in the code base gets its connection here, with the process's credentials.

A client connects as a **principal** (``intake``, ``convening``, ``notifier``, ``analytics``,
``gateway``, ``operator``, ``partner-<agency>``): ``COMMANDE_KAFKA_USERNAME`` when set, else the
principal the caller names. The password comes from ``COMMANDE_KAFKA_PASSWORD`` or
``COMMANDE_KAFKA_PASSWORD_FILE``; in development (``COMMANDE_ENV=development``) from the
embedded stack's credential folder when neither is set. What each principal may do is the ACL
table in :mod:`schemas.access`.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from schemas.errors import ConfigurationError
from services.runtime.settings import Settings
from services.runtime.tls import client_context

CREDENTIALS_DIR = "credentials"


def credentials_dir(settings: Settings) -> Path:
    """Where the embedded stack keeps one password file per principal (development only)."""
    return settings.kafka_state / CREDENTIALS_DIR


def username(settings: Settings, principal: str) -> str:
    """The SASL user this process connects as for ``principal``."""
    return settings.kafka_username or principal


def password(settings: Settings, principal: str) -> str:
    """The SASL password of ``principal``; a :class:`ConfigurationError` naming the settings
    when there is none."""
    user = username(settings, principal)
    if settings.kafka_password is not None:
        return settings.kafka_password.get_secret_value()
    if settings.kafka_password_file is not None:
        return _read_secret(settings.kafka_password_file, "COMMANDE_KAFKA_PASSWORD_FILE")
    if settings.development:
        stack_file = credentials_dir(settings) / f"{user}.password"
        if stack_file.exists():
            return _read_secret(stack_file, "the embedded stack's credential")
        raise ConfigurationError(
            f"no Kafka password for principal {user!r}: the embedded stack has none in "
            f"{credentials_dir(settings)} (run `commande stack up`), or set "
            "COMMANDE_KAFKA_PASSWORD / COMMANDE_KAFKA_PASSWORD_FILE")
    raise ConfigurationError(
        f"no Kafka password for principal {user!r}: set COMMANDE_KAFKA_PASSWORD_FILE (or "
        "COMMANDE_KAFKA_PASSWORD) and COMMANDE_KAFKA_USERNAME")


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """TLS for the broker connection: the configured CA (the stack's own in development, else
    the system trust store), hostname checked, and this client's certificate for mutual TLS."""
    context = client_context(settings, settings.kafka_ca_file, "COMMANDE_KAFKA_CA_FILE")
    if (settings.kafka_cert_file is None) != (settings.kafka_key_file is None):
        raise ConfigurationError(
            "mutual TLS needs both COMMANDE_KAFKA_CERT_FILE and COMMANDE_KAFKA_KEY_FILE")
    if settings.kafka_cert_file is not None and settings.kafka_key_file is not None:
        context.load_cert_chain(str(settings.kafka_cert_file), str(settings.kafka_key_file))
    return context


def bootstrap_servers(settings: Settings) -> list[str]:
    """``COMMANDE_KAFKA_BOOTSTRAP`` as a list of ``host:port`` (a comma-separated string there:
    FastStream would pass it to aiokafka as one server)."""
    return [server.strip() for server in settings.kafka_bootstrap.split(",") if server.strip()]


def connection(settings: Settings, principal: str) -> dict[str, Any]:
    """aiokafka keyword arguments for ``principal``: servers, protocol, TLS and SASL."""
    protocol = settings.kafka_security_protocol
    opts: dict[str, Any] = {"bootstrap_servers": bootstrap_servers(settings),
                            "security_protocol": protocol}
    if protocol == "PLAINTEXT":
        if not settings.development:
            raise ConfigurationError(
                "COMMANDE_KAFKA_SECURITY_PROTOCOL=PLAINTEXT is refused in production: use "
                "SASL_SSL (or SSL with a client certificate)")
        return opts
    opts["ssl_context"] = ssl_context(settings)
    if protocol == "SSL":
        if settings.kafka_cert_file is None:
            raise ConfigurationError(
                "COMMANDE_KAFKA_SECURITY_PROTOCOL=SSL authenticates with a client certificate: "
                "set COMMANDE_KAFKA_CERT_FILE and COMMANDE_KAFKA_KEY_FILE")
        return opts
    opts.update(sasl_mechanism=settings.kafka_sasl_mechanism,
                sasl_plain_username=username(settings, principal),
                sasl_plain_password=password(settings, principal))
    return opts


def producer(settings: Settings, principal: str, **options: Any) -> Any:
    """An ``AIOKafkaProducer`` connected as ``principal`` (made inside a running loop)."""
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(**connection(settings, principal), **options)


def consumer(settings: Settings, principal: str, *topics: str, **options: Any) -> Any:
    """An ``AIOKafkaConsumer`` connected as ``principal`` (made inside a running loop)."""
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(*topics, **connection(settings, principal), **options)


def admin(settings: Settings, principal: str, **options: Any) -> Any:
    """An ``AIOKafkaAdminClient`` connected as ``principal``."""
    from aiokafka.admin import AIOKafkaAdminClient

    return AIOKafkaAdminClient(**connection(settings, principal), **options)


def broker_security(settings: Settings, principal: str) -> Any:
    """FastStream's security object for ``principal`` (``None`` for a development PLAINTEXT
    broker)."""
    from faststream.security import BaseSecurity, SASLScram256, SASLScram512

    opts = connection(settings, principal)
    if opts["security_protocol"] == "PLAINTEXT":
        return None
    if opts["security_protocol"] == "SSL":
        return BaseSecurity(ssl_context=opts["ssl_context"])
    scram = SASLScram512 if opts["sasl_mechanism"] == "SCRAM-SHA-512" else SASLScram256
    return scram(username=opts["sasl_plain_username"], password=opts["sasl_plain_password"],
                 ssl_context=opts["ssl_context"])


def _read_secret(path: Path, what: str) -> str:
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise ConfigurationError(f"{what} {path} cannot be read: {exc.strerror}") from None
    if not text:
        raise ConfigurationError(f"{what} {path} is empty")
    return text
