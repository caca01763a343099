"""The embedded stack's Keycloak realm, generated from the directory.

``deploy/keycloak/commande-realm.json`` is committed; this module is how it is made, and a unit
test checks the two agree, so the realm follows the directory (a new agency gets its contact and
its partner client). Regenerate after a directory change::

    python -m deploy.keycloak.realm > deploy/keycloak/commande-realm.json

Everything in the realm is SYNTHETIC and for the LOCAL STACK ONLY: the people, their role
addresses on example domains, their password and the partner clients' secrets are published in
this repository. A real deployment points the gateway at its own identity provider
(``docs/operations.md``) and never imports this file.

How a sign-in maps to the directory (what :mod:`services.gateway.identity` reads):

* a person is a member of ``/agencies/<agency_id>/<role>`` groups, ``<role>`` being a contact
  role of the directory (``community_engagement_team`` chairs the district's table,
  ``staff_sergeant``, ``cmb_manager``, ``table_representative``…); analysts and operators are in
  ``/commande/analyst`` and ``/commande/operator``;
* a partner agency's system signs in with client credentials as ``partner-<agency_id>``; its
  service account is in ``/agencies/<agency_id>/system``;
* every token carries the group paths in ``groups`` and ``commande-gateway`` in ``aud``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from directory import (
    AgencyType,
    ContactRole,
    Directory,
    Organization,
    load_directory,
    reference_codes,
)
from schemas.reference import reference
from services.runtime.settings import PROJECT_ROOT

REALM = "commande"
AUDIENCE = "commande-gateway"
PEOPLE_CLIENT = "commande-people"
SHORT_LIVED_CLIENT = "commande-short-lived"
PARTNER_CLIENT_PREFIX = "partner-"
AGENCIES_GROUP = "agencies"
STAFF_GROUP = "commande"
SYSTEM_ROLE = "system"
LOCAL_PASSWORD = "commande-local-only"  # noqa: S105 - the published password of synthetic people
NOTICE = ("LOCAL STACK ONLY: synthetic people and partner systems; every password and client "
          "secret in this file is published with the source code. Never import it anywhere else.")
DIRECTORY = PROJECT_ROOT / "deploy" / "directory" / "halton.yaml"
REALM_FILE = Path(__file__).with_name("commande-realm.json")

_CMB_PEOPLE: tuple[tuple[str, ContactRole, str], ...] = (
    ("chair", ContactRole.COMMUNITY_ENGAGEMENT_TEAM, "Table Chair"),
    ("staff-sergeant", ContactRole.STAFF_SERGEANT, "Staff Sergeant"),
    ("cmb-manager", ContactRole.CMB_MANAGER, "CMB Manager"),
)


def group_path(agency_id: str, role: str) -> str:
    """The group a person acting for ``agency_id`` in ``role`` belongs to."""
    return f"/{AGENCIES_GROUP}/{agency_id}/{role}"


def partner_client_id(agency_id: str) -> str:
    """The client a partner agency's own system signs in with (client credentials)."""
    return f"{PARTNER_CLIENT_PREFIX}{agency_id}"


def partner_secret(agency_id: str) -> str:
    """The published, local-only client secret of a partner system."""
    return f"{partner_client_id(agency_id)}-local-only"


def cmb_username(org: Organization, what: str) -> str:
    """``d1-chair``: the district's number, then the person's post."""
    district = org.districts[0]
    return f"d{district.rsplit('_', 1)[-1]}-{what}"


def contact_username(org: Organization) -> str:
    """``housing-services-contact``: an agency's contact at the tables."""
    return f"{org.agency_id}-contact"


_SCOPES: dict[str, list[str]] = {
    # Tokens carry what the gateway needs (sub, groups, aud) and no name or e-mail address
    # unless a client asks for the profile or email scope.
    "defaultClientScopes": ["basic", "acr", "web-origins", "roles"],
    "optionalClientScopes": ["profile", "email", "offline_access"],
}


def _mappers() -> list[dict[str, Any]]:
    return [
        {"name": "groups", "protocol": "openid-connect",
         "protocolMapper": "oidc-group-membership-mapper",
         "config": {"claim.name": "groups", "full.path": "true", "access.token.claim": "true",
                    "id.token.claim": "true", "userinfo.token.claim": "true",
                    "introspection.token.claim": "true"}},
        {"name": "audience", "protocol": "openid-connect",
         "protocolMapper": "oidc-audience-mapper",
         "config": {"included.custom.audience": AUDIENCE, "access.token.claim": "true",
                    "id.token.claim": "false", "introspection.token.claim": "true"}},
    ]


def _address(org: Organization, role: ContactRole) -> str:
    contacts = org.contacts_for(role) or org.contacts
    return next((c.address for c in contacts if "@" in c.address),
                f"{org.agency_id}-{role.value}@agencies.example.org")


def _person(username: str, first: str, last: str, email: str, groups: list[str]) -> dict[str, Any]:
    # Every profile attribute is set and valid (no parentheses in names): Keycloak otherwise
    # asks the person to complete the profile, and the password grant answers "Account is not
    # fully set up".
    return {"username": username, "enabled": True, "firstName": first, "lastName": last,
            "email": email, "emailVerified": True,
            "credentials": [{"type": "password", "value": LOCAL_PASSWORD, "temporary": False}],
            "groups": groups}


def realm(directory: Directory) -> dict[str, Any]:
    """The realm representation (what Keycloak's admin API and ``--import-realm`` take)."""
    orgs = sorted(directory.organizations, key=lambda o: o.agency_id)
    groups: list[dict[str, Any]] = []
    users: list[dict[str, Any]] = []
    clients: list[dict[str, Any]] = [{
        "clientId": PEOPLE_CLIENT,
        "name": "COMMANDE for people: the command line and the table console",
        "enabled": True, "publicClient": True, "protocol": "openid-connect",
        "standardFlowEnabled": True, "implicitFlowEnabled": False,
        # The password grant serves `commande login` on this local realm only.
        "directAccessGrantsEnabled": True, "serviceAccountsEnabled": False,
        "redirectUris": ["http://127.0.0.1/*", "http://localhost/*"], "webOrigins": ["+"],
        "attributes": {"pkce.code.challenge.method": "S256",
                       "oauth2.device.authorization.grant.enabled": "true",
                       "post.logout.redirect.uris": "+"},
        "protocolMappers": _mappers(), **_SCOPES,
    }, {
        "clientId": SHORT_LIVED_CLIENT,
        "name": "Tokens that expire after 1 second, for the gateway's expiry test",
        "enabled": True, "publicClient": True, "protocol": "openid-connect",
        "standardFlowEnabled": False, "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": True, "serviceAccountsEnabled": False,
        "attributes": {"access.token.lifespan": "1"},
        "protocolMappers": _mappers(), **_SCOPES,
    }]
    for org in orgs:
        if org.agency_type is AgencyType.POLICE_CMB:
            roles = [role.value for _, role, _ in _CMB_PEOPLE]
            for what, role, title in _CMB_PEOPLE:
                district = org.districts[0].rsplit("_", 1)[-1]
                users.append(_person(cmb_username(org, what), title,
                                     f"District {district} synthetic", _address(org, role),
                                     [group_path(org.agency_id, role.value)]))
        else:
            roles = [ContactRole.TABLE_REPRESENTATIVE.value, SYSTEM_ROLE]
            users.append(_person(contact_username(org), "Table Contact",
                                 f"{org.agency_id} synthetic",
                                 _address(org, ContactRole.TABLE_REPRESENTATIVE),
                                 [group_path(org.agency_id, ContactRole.TABLE_REPRESENTATIVE)]))
            client = partner_client_id(org.agency_id)
            clients.append({
                "clientId": client, "name": f"{org.name}: its own system",
                "enabled": True, "publicClient": False, "protocol": "openid-connect",
                "clientAuthenticatorType": "client-secret", "secret": partner_secret(org.agency_id),
                "standardFlowEnabled": False, "implicitFlowEnabled": False,
                "directAccessGrantsEnabled": False, "serviceAccountsEnabled": True,
                "protocolMappers": _mappers(), **_SCOPES,
            })
            users.append({"username": f"service-account-{client}", "enabled": True,
                          "serviceAccountClientId": client,
                          "groups": [group_path(org.agency_id, SYSTEM_ROLE)]})
        groups.append({"name": org.agency_id, "subGroups": [{"name": r} for r in roles]})
    users.append(_person("analyst", "Analyst", "COMMANDE synthetic",
                         "analysts@commande.example.org", [f"/{STAFF_GROUP}/analyst"]))
    users.append(_person("operator", "Operator", "COMMANDE synthetic",
                         "operators@commande.example.org", [f"/{STAFF_GROUP}/operator"]))
    return {
        "realm": REALM,
        "enabled": True,
        "displayName": "COMMANDE (local stack only: synthetic people)",
        "attributes": {"commande.notice": NOTICE},
        "sslRequired": "external",
        "registrationAllowed": False,
        "resetPasswordAllowed": False,
        "loginWithEmailAllowed": False,
        "duplicateEmailsAllowed": False,
        "accessTokenLifespan": 300,
        "ssoSessionIdleTimeout": 1800,
        "oauth2DeviceCodeLifespan": 600,
        "groups": [
            {"name": AGENCIES_GROUP, "subGroups": groups},
            {"name": STAFF_GROUP, "subGroups": [{"name": "analyst"}, {"name": "operator"}]},
        ],
        "users": users,
        "clients": clients,
    }


def render(directory: Directory) -> str:
    """The realm file's text."""
    return json.dumps(realm(directory), indent=2, ensure_ascii=False) + "\n"


def load_default_directory() -> Directory:
    """The sample directory the realm is made from."""
    return load_directory(DIRECTORY, reference_codes(reference()))


if __name__ == "__main__":
    sys.stdout.write(render(load_default_directory()))
