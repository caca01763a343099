"""The console's security decisions (pure): PKCE, random values, cookies, CSRF, session lifetimes,
the sealing of the ID token at rest, and the headers of every page.

Nothing here touches the network or the database; the clock is passed in (sessions run on real
time, never on the services' clock, which the demo moves days ahead).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SESSION_COOKIE: Final = "commande_session"
LOGIN_COOKIE: Final = "commande_login"
CSRF_FIELD: Final = "csrf_token"
LOGIN_MINUTES: Final = 10
"""A sign-in begun must come back from the identity provider within this time."""
_SEAL_CONTEXT: Final = b"commande.console.id-token.v1"


def random_token(nbytes: int = 32) -> str:
    """A URL-safe random value (``secrets``) of ``nbytes`` bytes of entropy."""
    return secrets.token_urlsafe(nbytes)


def digest(value: str) -> bytes:
    """SHA-256 of a cookie value: what the database keeps instead of the value."""
    return hashlib.sha256(value.encode()).digest()


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE ``verifier`` (RFC 7636 section 4.2)."""
    raw = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def same(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a secret value with what a request carried."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def safe_return_path(path: str | None) -> str:
    """Where to go after signing in: a path of the console only (never another site, never a
    scheme-relative ``//host`` or a backslash trick); the console's home otherwise."""
    if not path or not path.startswith("/console/") or path.startswith("//") or "\\" in path:
        return "/console/"
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        return "/console/"
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    """How the console's cookies are set.

    ``secure`` follows the public address: an https address sets ``Secure``. On
    ``http://127.0.0.1`` (development) it cannot be set, or the browser would never send the
    cookie back; production refuses an http public address, so production cookies are always
    ``Secure``. Always ``HttpOnly`` (no script reads them) and ``SameSite=Lax`` (sent on the
    identity provider's redirect back, never on a cross-site POST); path ``/console/``.
    """

    secure: bool
    path: str = "/console/"

    @classmethod
    def for_public_url(cls, public_url: str) -> CookiePolicy:
        """The policy for a console served at ``public_url``."""
        return cls(secure=public_url.lower().startswith("https://"))

    def header(self, name: str, value: str, max_age: int) -> str:
        """A ``Set-Cookie`` value; ``max_age`` 0 deletes the cookie."""
        parts = [f"{name}={value}", f"Path={self.path}", f"Max-Age={max_age}", "HttpOnly",
                 "SameSite=Lax"]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


class SessionState(StrEnum):
    """Whether a session may be used now."""

    LIVE = "live"
    IDLE = "idle"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """A session's idle timeout and absolute lifetime (settings)."""

    idle: timedelta
    absolute: timedelta

    def opened(self, now: datetime) -> tuple[datetime, datetime]:
        """``(idle_until, expires_at)`` of a session opened at ``now``."""
        expires = now + self.absolute
        return min(now + self.idle, expires), expires

    def judge(self, idle_until: datetime, expires_at: datetime, now: datetime) -> SessionState:
        """Whether a session is live at ``now``, or ended by idleness or its lifetime."""
        if now >= expires_at:
            return SessionState.EXPIRED
        if now >= idle_until:
            return SessionState.IDLE
        return SessionState.LIVE

    def touched(self, expires_at: datetime, now: datetime) -> datetime:
        """The new ``idle_until`` after a request at ``now``."""
        return min(now + self.idle, expires_at)


def _seal_key(session_id: str) -> bytes:
    return hashlib.sha256(_SEAL_CONTEXT + b"|" + session_id.encode()).digest()


def seal_for_session(session_id: str, plain: str) -> bytes:
    """``plain`` sealed (AES-256-GCM) under a key derived from the session id, which only the
    browser's cookie holds: the database keeps ``digest(session_id)``, never the key."""
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(_seal_key(session_id)).encrypt(nonce, plain.encode(), _SEAL_CONTEXT)


def open_for_session(session_id: str, sealed: bytes) -> str | None:
    """What :func:`seal_for_session` sealed, or ``None`` if it does not open with this id."""
    try:
        return AESGCM(_seal_key(session_id)).decrypt(sealed[:12], sealed[12:], _SEAL_CONTEXT).decode()
    except (InvalidTag, ValueError):
        return None


def content_security_policy(*, wasm: bool = False, form_targets: tuple[str, ...] = ()) -> str:
    """Every page's CSP: scripts, styles, images and fonts from the gateway only, no inline
    script or style, no framing; forms post to the gateway (and to ``form_targets``: the
    identity provider's origin, where signing out ends its session); the disclosure page may
    also compile WebAssembly (libsodium), which does not allow ``eval``."""
    script = "script-src 'self' 'wasm-unsafe-eval'" if wasm else "script-src 'self'"
    forms = " ".join(("'self'", *form_targets))
    return ("default-src 'none'; " + script + "; style-src 'self'; img-src 'self'; "
            f"font-src 'self'; connect-src 'self'; form-action {forms}; frame-ancestors 'none'; "
            "base-uri 'none'")


def page_headers(*, wasm: bool = False, secure: bool = False,
                 form_targets: tuple[str, ...] = ()) -> dict[str, str]:
    """Security headers of every console answer (pages, redirects, static files)."""
    headers = {
        "Content-Security-Policy": content_security_policy(wasm=wasm, form_targets=form_targets),
        "X-Content-Type-Options": "nosniff",
        # Our URLs carry opaque ids only; same-origin keeps even those from other sites, and
        # lets the browser send a real Origin on our own form posts (no-referrer makes it "null").
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        "Cache-Control": "no-store",
    }
    if secure:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers
