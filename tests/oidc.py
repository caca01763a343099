"""Signing in to the embedded Keycloak in tests, as its synthetic people and partner systems."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

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


async def approve_device(verification_url: str, username: str, password: str = LOCAL_PASSWORD) -> None:
    """Do in place of a person's browser what the device grant asks: open the verification
    address, sign in on Keycloak's form, grant access.

    Keycloak marks its cookies ``Secure`` even on http://127.0.0.1 (a browser's secure context);
    httpx would not send them back over http, so they are carried by hand here.
    """
    jar: dict[str, str] = {}

    async def go(http: httpx.AsyncClient, method: str, url: str,
                 data: dict[str, str] | None = None) -> httpx.Response:
        while True:
            answer = await http.request(method, url, data=data, headers={
                "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())})
            for cookie in answer.headers.get_list("set-cookie"):
                name, value = cookie.split(";", 1)[0].split("=", 1)
                jar[name] = value
            if answer.status_code not in (302, 303):
                return answer
            url, method, data = urljoin(url, answer.headers["location"]), "GET", None

    async with httpx.AsyncClient(timeout=30) as http:
        page = await go(http, "GET", verification_url)
        signed = await go(http, "POST", _form_action(page), {"username": username, "password": password})
        code = re.search(r'name="code" value="([^"]+)"', signed.text)
        assert code is not None, "Keycloak did not ask to grant access"
        granted = await go(http, "POST", urljoin(str(signed.url), _form_action(signed)),
                           {"code": code.group(1), "accept": "Yes"})
        assert granted.status_code == 200, granted.status_code


def _form_action(page: httpx.Response) -> str:
    found = re.search(r'<form[^>]*action="([^"]+)"', page.text)
    assert found is not None, f"no form on {page.url}"
    return html.unescape(found.group(1))
