"""Signing in to the embedded Keycloak in tests, as its synthetic people and partner systems."""

from __future__ import annotations

import httpx

from deploy.keycloak.realm import LOCAL_PASSWORD, PEOPLE_CLIENT, partner_client_id, partner_secret


async def token(issuer: str, form: dict[str, str]) -> str:
    """An access token from ``issuer``'s token endpoint for ``form``."""
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(f"{issuer}/protocol/openid-connect/token", data=form)
    assert answer.status_code == 200, answer.text
    access: str = answer.json()["access_token"]
    return access


async def person(issuer: str, username: str, client_id: str = PEOPLE_CLIENT,
                 password: str = LOCAL_PASSWORD) -> str:
    """A synthetic person's access token (password grant: the local realm only)."""
    return await token(issuer, {"grant_type": "password", "client_id": client_id,
                                "username": username, "password": password})


async def partner_system(issuer: str, agency_id: str) -> str:
    """A partner agency's system's access token (client credentials)."""
    return await token(issuer, {"grant_type": "client_credentials",
                                "client_id": partner_client_id(agency_id),
                                "client_secret": partner_secret(agency_id)})
