"""What production refuses at start: development secrets, sample data, plaintext, missing secrets.

Production is the default (``COMMANDE_ENV`` unset). Each service's composition root collects its
refusals — the runtime's here, its own beside its keys — and calls :func:`enforce`, which stops
the start with one line per refusal, each naming the setting to change. In development
(``COMMANDE_ENV=development``: the embedded stack, the demo, the tests) nothing is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from schemas.errors import ConfigurationError
from services.runtime.settings import PROJECT_ROOT, Settings

SAMPLE_DIRECTORY = PROJECT_ROOT / "deploy" / "directory" / "halton.yaml"
"""The synthetic sample directory: its keys are derivable test keys."""


class ProductionRefused(ConfigurationError):
    """A production start met a development secret, sample data, plaintext or a missing secret."""


def enforce(settings: Settings, refusals: Iterable[str]) -> None:
    """Raise :class:`ProductionRefused` listing ``refusals`` (production only)."""
    found = list(dict.fromkeys(refusals))
    if settings.development or not found:
        return
    raise ProductionRefused(
        "refusing to start in production (COMMANDE_ENV is not 'development'):\n  - "
        + "\n  - ".join(found))


def runtime_refusals(settings: Settings) -> list[str]:
    """What every service refuses: plaintext Kafka, a missing Kafka secret, the demo clock."""
    out: list[str] = []
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        out.append("COMMANDE_KAFKA_SECURITY_PROTOCOL=PLAINTEXT sends referrals and identities in "
                   "clear: use SASL_SSL (or SSL with a client certificate)")
    if protocol == "SASL_SSL" and settings.kafka_password is None and settings.kafka_password_file is None:
        out.append("COMMANDE_KAFKA_PASSWORD_FILE (or COMMANDE_KAFKA_PASSWORD) is not set: give this "
                   "service's SCRAM password (docs/operations.md, 'Principals')")
    if protocol == "SSL" and (settings.kafka_cert_file is None or settings.kafka_key_file is None):
        out.append("COMMANDE_KAFKA_CERT_FILE and COMMANDE_KAFKA_KEY_FILE are needed for "
                   "COMMANDE_KAFKA_SECURITY_PROTOCOL=SSL (mutual TLS)")
    if settings.clock_offset_file is not None:
        out.append("COMMANDE_CLOCK_OFFSET_FILE moves the services' clock (demo and tests only): "
                   "unset it")
    return out


def public_url_refusals(setting: str, url: str) -> list[str]:
    """A public base URL (in links people follow) must be HTTPS on a real host."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host == "localhost" or _is_loopback(host):
        return [f"{setting}={url} is on loopback: links in e-mails would not reach anyone; set "
                "the public https:// address"]
    if parts.scheme != "https":
        return [f"{setting}={url} is not https: set the public https:// address"]
    return []


def console_url_refusals(settings: Settings) -> list[str]:
    """The table console's public address (``COMMANDE_PUBLIC_URL``): the identity provider sends
    people back to it and e-mails link to it, so it must be set, https and not loopback."""
    if settings.public_url is None:
        return ["COMMANDE_PUBLIC_URL is not set: give the table console's public https:// "
                "address (sign-in returns there, e-mails link there)"]
    return public_url_refusals("COMMANDE_PUBLIC_URL", settings.public_url)


def directory_refusals(setting: str, path: Path) -> list[str]:
    """The sample directory, or any directory key derived from a development seed."""
    if path.resolve() == SAMPLE_DIRECTORY.resolve():
        return [f"{setting}={path} is the synthetic sample directory (its keys are derivable test "
                "keys): point it at your region's directory"]
    from directory.loader import load_directory
    from services.runtime.dev_keys import derived_keys

    return [f"{setting}: {what} is a development test key (derived from a public seed): replace "
            "it with the agency's own" for what in derived_keys(load_directory(path))]


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
