"""The embedded stack's realm follows the directory and says it is for the local stack only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deploy.keycloak import realm
from directory import AgencyType

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(realm.REALM_FILE.read_text())
    return data


def test_the_committed_realm_is_the_generated_one() -> None:
    """Regenerate with `python -m deploy.keycloak.realm > deploy/keycloak/commande-realm.json`."""
    assert realm.REALM_FILE.read_text() == realm.render(realm.load_default_directory())


def test_every_agency_has_its_people_and_its_system(committed: dict[str, Any]) -> None:
    directory = realm.load_default_directory()
    groups = {u["username"]: u.get("groups", []) for u in committed["users"]}
    clients = {c["clientId"]: c for c in committed["clients"]}
    for org in directory.organizations:
        if org.agency_type is AgencyType.POLICE_CMB:
            district = org.districts[0].rsplit("_", 1)[-1]
            assert groups[f"d{district}-chair"] == [
                f"/agencies/{org.agency_id}/community_engagement_team"]
            assert groups[f"d{district}-staff-sergeant"] == [f"/agencies/{org.agency_id}/staff_sergeant"]
            assert groups[f"d{district}-cmb-manager"] == [f"/agencies/{org.agency_id}/cmb_manager"]
        else:
            assert groups[f"{org.agency_id}-contact"] == [
                f"/agencies/{org.agency_id}/table_representative"]
            client = clients[f"partner-{org.agency_id}"]
            assert client["serviceAccountsEnabled"]
            assert not client["publicClient"]
            assert groups[f"service-account-partner-{org.agency_id}"] == [
                f"/agencies/{org.agency_id}/system"]
    assert groups["analyst"] == ["/commande/analyst"]
    assert groups["operator"] == ["/commande/operator"]


def test_people_sign_in_with_pkce_and_tokens_carry_groups_and_audience(committed: dict[str, Any]) -> None:
    people = next(c for c in committed["clients"] if c["clientId"] == realm.PEOPLE_CLIENT)
    assert people["publicClient"]
    assert people["standardFlowEnabled"]
    assert people["attributes"]["pkce.code.challenge.method"] == "S256"
    assert people["attributes"]["oauth2.device.authorization.grant.enabled"] == "true"
    for client in committed["clients"]:
        mappers = {m["protocolMapper"]: m["config"] for m in client["protocolMappers"]}
        assert mappers["oidc-group-membership-mapper"]["full.path"] == "true"
        assert mappers["oidc-audience-mapper"]["included.custom.audience"] == realm.AUDIENCE
        assert "profile" not in client["defaultClientScopes"]  # no names in tokens by default


def test_the_file_says_its_secrets_are_for_the_local_stack_only(committed: dict[str, Any]) -> None:
    assert "LOCAL STACK ONLY" in committed["attributes"]["commande.notice"]
    assert "local stack only" in committed["displayName"]
    for user in committed["users"]:
        for credential in user.get("credentials", []):
            assert credential["value"] == realm.LOCAL_PASSWORD == "commande-local-only"
    for client in committed["clients"]:
        assert client.get("secret", "-local-only").endswith("-local-only")
