"""TLS for our clients (Kafka, SMTP): whom to trust.

A configured CA bundle; else, in development, the embedded stack's own CA (``.state/kafka/tls``,
made by ``commande stack up``: its broker and SMTP sink present certificates it signed); else the
system's trust store. Hostnames are always checked.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from schemas.errors import ConfigurationError
from services.runtime.settings import Settings

TLS_DIR = "tls"


def stack_tls_dir(settings: Settings) -> Path:
    """The embedded stack's CA and server certificate folder."""
    return settings.kafka_state / TLS_DIR


def stack_ca_file(settings: Settings) -> Path:
    """The embedded stack's CA certificate (PEM)."""
    return stack_tls_dir(settings) / "ca.pem"


def stack_server_pem(settings: Settings) -> Path:
    """The embedded stack's server key, certificate and CA chain in one PEM (broker, SMTP sink)."""
    return stack_tls_dir(settings) / "server.pem"


def trusted_ca(settings: Settings, ca_file: Path | None, setting: str) -> Path | None:
    """The CA bundle a client trusts: ``ca_file`` (named ``setting`` in errors), else the stack's
    CA in development, else ``None``: the system's trust store."""
    if ca_file is None and settings.development and stack_ca_file(settings).exists():
        ca_file = stack_ca_file(settings)
    if ca_file is not None and not ca_file.exists():
        raise ConfigurationError(f"{setting} {ca_file} does not exist")
    return ca_file


def client_context(settings: Settings, ca_file: Path | None, setting: str) -> ssl.SSLContext:
    """A client context trusting :func:`trusted_ca`."""
    ca_file = trusted_ca(settings, ca_file, setting)
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
