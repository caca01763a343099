"""The HTTP side of a process: health, readiness, metrics, and each service's own routes.

One Starlette app per process; its lifespan starts the services' FastStream apps, so uvicorn's
SIGTERM/SIGINT handling gives a graceful stop: consumers stop, in-flight work ends, the outbox is
flushed, then the process exits 0.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.runtime.service import Service


def asgi_app(services: Sequence[Service]) -> Starlette:
    """The process's ASGI app for ``services``."""

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

    routes = [Route("/health", health), Route("/ready", ready), Route("/metrics", metrics)]
    for svc in services:
        routes.extend(svc.routes)  # type: ignore[arg-type]
    return Starlette(routes=routes, lifespan=lifespan)
