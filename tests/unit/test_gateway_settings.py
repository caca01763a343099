"""The gateway's issuer: the embedded realm in development only; production names what is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from schemas.errors import ConfigurationError
from services.gateway.main import build
from services.gateway.settings import GatewaySettings
from services.runtime.production import ProductionRefused

pytestmark = pytest.mark.unit


def test_development_signs_in_with_the_embedded_realm() -> None:
    settings = GatewaySettings(env="development", keycloak_port=28180, http_port=8280)
    assert settings.issuer == "http://127.0.0.1:28180/realms/commande"
    assert settings.base_url == "http://127.0.0.1:8280"


def test_production_has_no_default_issuer() -> None:
    with pytest.raises(ConfigurationError, match="COMMANDE_OIDC_ISSUER is not set"):
        _ = GatewaySettings(env="production").issuer


def test_production_refuses_no_issuer_plain_http_and_the_sample_directory() -> None:
    settings = GatewaySettings(env="production", oidc_issuer="http://sso.example.org/realms/halton",
                               oidc_jwks_url="http://sso.example.org/certs",
                               kafka_password=SecretStr("from-a-secret-store"))
    with pytest.raises(ProductionRefused) as refused:
        build(settings)
    lines = str(refused.value).splitlines()[1:]
    assert any("COMMANDE_OIDC_ISSUER=http://sso.example.org/realms/halton is not https" in ln
               for ln in lines)
    assert any("COMMANDE_OIDC_JWKS_URL=http://sso.example.org/certs is not https" in ln for ln in lines)
    assert any("COMMANDE_DIRECTORY_PATH" in ln and "sample directory" in ln for ln in lines)
    with pytest.raises(ProductionRefused, match="COMMANDE_OIDC_ISSUER is not set"):
        build(GatewaySettings(env="production", kafka_password=SecretStr("from-a-secret-store")))


def test_production_refuses_a_console_without_a_public_https_address() -> None:
    """The identity provider sends people back to COMMANDE_PUBLIC_URL, and e-mails link to it."""
    base: dict[str, Any] = {"env": "production", "oidc_issuer": "https://sso.example.org/realms/halton",
            "kafka_password": SecretStr("from-a-secret-store")}
    for public_url, words in [(None, "COMMANDE_PUBLIC_URL is not set"),
                              ("http://console.example.org", "is not https"),
                              ("https://127.0.0.1:8443", "is on loopback")]:
        with pytest.raises(ProductionRefused) as refused:
            build(GatewaySettings(**base, public_url=public_url))
        assert any(ln.strip().startswith("- COMMANDE_PUBLIC_URL") and words in ln
                   for ln in str(refused.value).splitlines()), str(refused.value)
