"""The HTTP side of a process: each service's own routes on the public port; health, readiness
and metrics on the admin port.

One uvicorn server listens on both; the public app's lifespan starts the services' FastStream
apps, so uvicorn's SIGTERM/SIGINT handling gives a graceful stop: consumers stop, in-flight work
ends, the outbox is flushed, then the process exits 0.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from schemas.errors import ConfigurationError
from services.runtime.service import Service


def asgi_app(services: Sequence[Service]) -> Starlette:
    """The public app of a process: each service's own routes (ingress, acknowledgements, the
    gateway's API); its lifespan starts and stops the services."""

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        started: list[Service] = []
        try:
            for svc in services:
                await svc.faststream.start()
                started.append(svc)
            yield
        finally:
            for svc in reversed(started):
                await svc.faststream.stop()

    routes = [route for svc in services for route in svc.routes]
    return Starlette(routes=routes, lifespan=lifespan)


def admin_app(services: Sequence[Service]) -> Starlette:
    """The admin app of a process: health, readiness and metrics, on a port of its own
    (``COMMANDE_ADMIN_HOST``/``COMMANDE_ADMIN_PORT``, loopback by default): not on the public
    ingress, where anyone could scrape the consumer lag."""

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "alive", "services": [s.name for s in services]})

    async def ready(_: Request) -> Response:
        states = {s.name: s.ready for s in services}
        return JSONResponse({"ready": all(states.values()), "services": states},
                            status_code=200 if all(states.values()) else 503)

    async def metrics(_: Request) -> Response:
        for svc in services:
            if svc.ready:
                await svc.observe()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/health", health), Route("/ready", ready),
                             Route("/metrics", metrics)])


def by_port(apps: Mapping[int, ASGIApp], default: ASGIApp) -> ASGIApp:
    """One ASGI app for a server listening on several sockets: each request goes to the app of
    the port it arrived on (``default`` for others, and for the lifespan)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server") or ("", 0)
        target = default if scope["type"] == "lifespan" else apps.get(int(server[1]), default)
        await target(scope, receive, send)

    return app


def listening_socket(host: str, port: int, setting: str) -> socket.socket:
    """A bound TCP socket for uvicorn (which listens on it); ``setting`` names where the address
    comes from, for the error when it is taken."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port} ({exc.strerror}): set {setting} to a free "
            "address") from None
    return sock
