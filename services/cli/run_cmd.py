"""``commande run``: run one service, or all of them in one process (the embedded default)."""

from __future__ import annotations

import importlib
import signal
from enum import StrEnum
from typing import Annotated

import typer

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
    port: Annotated[int | None, typer.Option(help="HTTP port (health, metrics, ingress).")] = None,
) -> None:
    """Run services until SIGTERM or SIGINT, then stop gracefully (exit 0).

    HTTP on 127.0.0.1: /health, /ready, /metrics, plus each service's own routes.

    Example: commande run all
             commande run intake --port 8081
    """
    import uvicorn

    from services.runtime.http import asgi_app

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format,
                      service=which.value if which is not Which.all else None)
    names = SERVICES if which is Which.all else (which.value,)
    app = asgi_app([build(n, settings) for n in names])
    # uvicorn stops gracefully on SIGTERM/SIGINT, then re-raises the signal to the handler that
    # was there before it: make that one a no-op, so a graceful stop exits 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    uvicorn.run(app, host=settings.http_host, port=port or settings.http_port,
                log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=20)
