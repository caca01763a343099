"""``commande run``: run one service, or all of them in one process (the embedded default)."""

from __future__ import annotations

import importlib
import signal
from enum import StrEnum
from typing import Annotated

import typer

from services.runtime import collector
from services.runtime.clock import clock_for
from services.runtime.logging import configure_logging
from services.runtime.service import Service
from services.runtime.settings import Settings

SERVICES = ("intake", "convening", "notifier", "gateway")


class Which(StrEnum):
    """What to run."""

    intake = "intake"
    convening = "convening"
    notifier = "notifier"
    gateway = "gateway"
    all = "all"


def build(name: str, settings: Settings) -> Service:
    """The service ``name`` from its composition root ``services.<name>.main.build``."""
    module = importlib.import_module(f"services.{name}.main")
    service: Service = module.build(settings, clock=clock_for(settings.clock_offset_file))
    return service


def run(
    which: Annotated[Which, typer.Argument(help="intake, convening, notifier, gateway, or all of them.")],
    port: Annotated[int | None, typer.Option(
        help="Public HTTP port (ingress, acknowledgements, the gateway); COMMANDE_HTTP_PORT.")] = None,
    admin_port: Annotated[int | None, typer.Option(
        help="Admin HTTP port (/health, /ready, /metrics); COMMANDE_ADMIN_PORT.")] = None,
) -> None:
    """Run services until SIGTERM or SIGINT, then stop gracefully (exit 0).

    HTTP: each service's own routes on COMMANDE_HTTP_HOST:COMMANDE_HTTP_PORT (127.0.0.1:8080);
    /health, /ready and /metrics on COMMANDE_ADMIN_HOST:COMMANDE_ADMIN_PORT (127.0.0.1:9080).

    Example: commande run all
             commande run intake --port 8081
    """
    import uvicorn

    from services.runtime.http import admin_app, asgi_app, by_port, listening_socket

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format,
                      service=which.value if which is not Which.all else None)
    names = SERVICES if which is Which.all else (which.value,)
    services = [build(n, settings) for n in names]
    public = listening_socket(settings.http_host, port or settings.http_port,
                              "COMMANDE_HTTP_HOST/COMMANDE_HTTP_PORT (or --port)")
    admin = listening_socket(settings.admin_host, admin_port or settings.admin_port,
                             "COMMANDE_ADMIN_HOST/COMMANDE_ADMIN_PORT (or --admin-port)")
    app = by_port({admin.getsockname()[1]: admin_app(services)}, asgi_app(services))
    # uvicorn stops gracefully on SIGTERM/SIGINT, then re-raises the signal to the handler that
    # was there before it: make that one a no-op, so a graceful stop exits 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    # uvloop: the same services at less CPU per referral than asyncio's own loop (bench/RESULTS.md,
    # 2026-12-04); every await of aiokafka, asyncpg and the HTTP servers runs on it.
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on",
                                           loop="uvloop", timeout_graceful_shutdown=20))
    collector.settle()  # built: what lives now lives as long as the process
    server.run(sockets=[public, admin])
