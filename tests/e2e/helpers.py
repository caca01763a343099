"""What the e2e tests do with a running pipeline: read topics and the mail sink, run the CLI as
a person would, move the shared clock."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from deploy.keycloak.realm import LOCAL_PASSWORD
from schemas.base import Message
from schemas.envelope import Envelope
from services.runtime.clock import OffsetFileClock
from services.runtime.events import decode
from services.runtime.settings import Settings
from services.runtime.wire import Watch
from tests.support.kafka import HARNESS, read_all
from tests.support.mail import session_mail

if TYPE_CHECKING:
    from tests.e2e.conftest import Pipeline

M = TypeVar("M", bound=Message)


def _any(_: Message) -> bool:
    return True


async def events_of(settings: Settings, topic: str, kind: type[M],
                    match: Callable[[M], bool] = _any) -> list[M]:
    """The events of type ``kind`` on ``topic`` (from its beginning) that ``match``."""
    found: list[M] = []
    for rec in await read_all(settings, topic):
        try:
            event = decode(rec).event
        except Exception:  # noqa: S112 - other tests' garbage may sit on shared topics
            continue
        if isinstance(event, kind) and match(event):
            found.append(event)
    return found


def mails_mentioning(settings: Settings, text: str) -> list[EmailMessage]:
    out = []
    for msg in session_mail(settings.mail_dir):
        body = msg.get_body(preferencelist=("plain",))
        if body is not None and text in body.get_content():
            out.append(msg)
    return out


def command(*args: str, settings: Settings, pipeline: Pipeline, person: str | None = None) -> str:
    """Run ``commande *args`` against the pipeline's stack and clock; its stdout (must exit 0).

    With ``person`` (a synthetic sign-in of the local realm: ``d1-chair``, ``public-health-contact``)
    the command runs signed in as them (``commande login`` once per person), through the gateway.
    """
    env = {**pipeline.procs["intake"].env(), "COMMANDE_CLOCK_OFFSET_FILE": str(pipeline.clock_file)}
    if "gateway" in pipeline.procs:
        env["COMMANDE_GATEWAY_URL"] = f"http://127.0.0.1:{pipeline.procs['gateway'].port}"
    if person is not None:
        env["COMMANDE_TOKEN_FILE"] = str(pipeline.clock_file.with_name(f"tokens-{person}.json"))
        if not Path(env["COMMANDE_TOKEN_FILE"]).exists():
            login = subprocess.run([sys.executable, "-m", "services.cli", "login", person,
                                    "--password-stdin"], env=env, input=LOCAL_PASSWORD + "\n",
                                   capture_output=True, text=True, timeout=60, check=False)
            assert login.returncode == 0, login.stderr
    done = subprocess.run([sys.executable, "-m", "services.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def after(settings: Settings, topic: str, match: Callable[[Envelope[Message]], bool],
                action: Callable[[], object]) -> Message:
    async with Watch(settings, HARNESS, topic) as watch:
        action()
        found = await watch.first(match, 60)
    assert found is not None
    return found.event


def move_to(pipeline: Pipeline, moment: datetime) -> None:
    ahead = moment - OffsetFileClock(pipeline.clock_file).now()
    if ahead > timedelta(0):
        OffsetFileClock.advance_file(pipeline.clock_file, ahead)
