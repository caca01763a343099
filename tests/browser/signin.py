"""Signing in to the console without a browser (httpx), for the checks a browser hides: cookie
attributes, headers of every answer, the sign-in's state, the session row."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

import httpx

from deploy.keycloak.realm import LOCAL_PASSWORD


class Visitor:
    """One person's cookies: the console's and Keycloak's (carried by hand: Keycloak marks its
    cookies ``Secure`` even on http://127.0.0.1, which httpx would not send back)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jars: dict[str, dict[str, str]] = {}
        self.set_cookies: list[str] = []
        self.http = httpx.Client(timeout=30)

    def close(self) -> None:
        self.http.close()

    def _jar(self, url: str) -> dict[str, str]:
        return self.jars.setdefault("console" if url.startswith(self.base) else "idp", {})

    def request(self, method: str, url: str, data: dict[str, str] | None = None,
                follow: bool = True) -> httpx.Response:
        url = urljoin(self.base, url)
        while True:
            jar = self._jar(url)
            answer = self.http.request(method, url, data=data, headers={
                "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())})
            for cookie in answer.headers.get_list("set-cookie"):
                if url.startswith(self.base):
                    self.set_cookies.append(cookie)
                name, value = cookie.split(";", 1)[0].split("=", 1)
                if value:
                    jar[name] = value
                else:
                    jar.pop(name, None)
            if not follow or answer.status_code not in (302, 303):
                return answer
            url, method, data = urljoin(url, answer.headers["location"]), "GET", None

    def sign_in(self, username: str, then: str = "/console/") -> httpx.Response:
        """Through Keycloak's own form, back to the console; the last answer."""
        page = self.request("GET", f"/console/sign-in?next={then}")
        found = re.search(r'<form[^>]*action="([^"]+)"', page.text)
        assert found is not None, f"no sign-in form at {page.url}"
        return self.request("POST", html.unescape(found.group(1)),
                            {"username": username, "password": LOCAL_PASSWORD})
