"""Benchmark: notices per second delivered by notifier, and event-to-delivered latency.

Run: ``.venv/bin/python -m bench.notifier [--emails N] [--webhooks M] [--record]`` with the local
stack up (Kafka and PostgreSQL of ``commande stack up``). The bench's producer connects as the
broker's super user (``bench.common.HARNESS``); notifier as its own principal.

notifier runs in this process (``services.notifier.main.build``, the real consumers, delivery
loop and outbox relay) on the real Kafka and PostgreSQL. E-mails go to a private instance of the
stack's SMTP sink (``python -m deploy.local.smtp_sink`` as its own process on a free port, its
Maildir in a temp folder, so the shared sink is not flooded); webhooks to a local HTTPS receiver
that answers 204. The directory is the sample one with every role address tagged for this run.

Load: N ``SlaBreached`` (one e-mail each, to a district Staff Sergeant) and M ``DisclosureSealed``
(one signed webhook each), produced up front. Rate = notices / (last ``delivered_at`` - first
produce). Latency per notice = its ``delivered_at`` - the wall-clock instant its event was produced
(so it includes the wait in the backlog). ``--record`` appends a section to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import ipaddress
import platform
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import asyncpg
import uvicorn
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from uuid6 import uuid7

from bench.common import HARNESS, development_stack
from schemas.base import Message
from schemas.disclosures import DisclosureSealed
from schemas.situations import SlaBreached
from services.notifier.main import build
from services.notifier.settings import NotifierSettings
from services.runtime.events import emit
from services.runtime.kafka import Producer
from services.runtime.settings import PROJECT_ROOT
from tests.support.samples import sample

RESULTS = PROJECT_ROOT / "bench" / "RESULTS.md"
HALTON = PROJECT_ROOT / "deploy" / "directory" / "halton.yaml"
WEBHOOK_AGENCY = "mental-health-assoc"
LAST_CREATED = [0.0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _until(ready: Callable[[], bool]) -> None:
    """Poll ``ready`` (a port opening, a server flag: nothing to await on)."""
    for _ in range(400):
        if ready():
            return
        await asyncio.sleep(0.05)
    sys.exit("a local receiver did not start within 20 s")


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "receiver.crt", folder / "receiver.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def directory(folder: Path, run: str, port: int) -> Path:
    data = yaml.safe_load(HALTON.read_text())
    for org in data["organizations"]:
        for contact in org["contacts"]:
            if contact["channel"] == "email":
                local, domain = contact["address"].split("@")
                contact["address"] = f"{local}+bench{run}@{domain}"
            else:
                contact["address"] = f"https://127.0.0.1:{port}/{org['agency_id']}"
    path = folder / "directory.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def main(emails: int, webhooks: int, record: bool) -> None:
    run = uuid.uuid4().hex[:8]
    folder = Path(tempfile.mkdtemp(prefix="bench-notifier-"))
    sink_port, hook_port = free_port(), free_port()
    sink = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deploy.local.smtp_sink", "--port", str(sink_port), "--maildir",
        str(folder / "mail"), stdout=asyncio.subprocess.DEVNULL, cwd=PROJECT_ROOT)
    await _until(lambda: _listening(sink_port))
    received = 0

    async def hook(request: Request) -> Response:
        nonlocal received
        await request.body()
        received += 1
        return Response(status_code=204)

    cert, key = self_signed(folder)
    server = uvicorn.Server(uvicorn.Config(
        Starlette(routes=[Route("/{p:path}", hook, methods=["POST"])]), host="127.0.0.1",
        port=hook_port, ssl_certfile=str(cert), ssl_keyfile=str(key), log_level="warning",
        lifespan="off"))
    serving = asyncio.create_task(server.serve())
    await _until(lambda: server.started)
    settings = development_stack(NotifierSettings(
        smtp_port=sink_port, notifier_directory=directory(folder, run, hook_port),
        notifier_ack_secret=SecretStr(f"bench-ack-secret-{run}"),
        notifier_webhook_secrets={WEBHOOK_AGENCY: SecretStr(f"bench-hook-secret-{run}")},
        notifier_webhook_ca_file=cert, notifier_poll_interval=0.2, db_pool_max=10,
        smtp_tls="none"))  # the bench's own plaintext sink
    admin = await asyncpg.create_pool(settings.database_url.get_secret_value(), min_size=1,
                                      max_size=2)
    assert admin is not None
    svc = build(settings)
    producer = Producer(settings, HARNESS, client_id=f"bench-notifier-{run}")
    await producer.start()
    await svc.faststream.start()
    try:
        await load(producer, admin, 5, 5)  # warm up (group join, connections)
        began = time.time()
        produced_at, delivered = await load(producer, admin, emails, webhooks)
        total = emails + webhooks
        last = max(delivered.values())
        rate = total / (last - began)
        latencies = sorted(delivered[c] - produced_at[c] for c in delivered)
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        handled = LAST_CREATED[0] - began
        raw = await raw_smtp(sink_port, 300)
    finally:
        await svc.faststream.stop()
        await producer.stop()
        await admin.close()
        server.should_exit = True
        await serving
        sink.terminate()
        await sink.wait()
        shutil.rmtree(folder, ignore_errors=True)
    lines = [
        f"- notices: {total} ({emails} e-mails to a private SMTP sink, {webhooks} signed "
        f"webhooks to a local HTTPS receiver; receiver saw {received})",
        f"- delivered: {rate:,.0f} notices/s (first produce to last delivered_at: "
        f"{last - began:.2f}s)",
        f"- event-to-delivered latency (backlog included): p50 {p50 * 1000:,.0f} ms, "
        f"p99 {p99 * 1000:,.0f} ms",
        f"- events handled (all notices inserted) {handled:.2f}s after the first produce "
        f"({total / handled:,.0f} events/s)",
        f"- baseline: raw aiosmtplib to the same sink, 50 concurrent, no notifier: {raw:,.0f} "
        "messages/s",
        f"- settings: batch {settings.notifier_batch}, pool max {settings.db_pool_max}",
    ]
    print("\n".join(lines))
    if record:
        with RESULTS.open("a") as out:
            out.write(f"\n### notifier, {total} notices ({platform.python_version()}, "
                      f"{platform.machine()}), {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC\n\n"
                      f"Command: `.venv/bin/python -m bench.notifier --emails {emails} "
                      f"--webhooks {webhooks} --record`\n\n" + "\n".join(lines) + "\n")


async def raw_smtp(port: int, n: int) -> float:
    """Messages per second the sink takes from a bare aiosmtplib client (50 concurrent)."""
    sem = asyncio.Semaphore(50)

    async def one(i: int) -> None:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "bench@example.org", "sink@example.org", f"raw {i}"
        msg.set_content("Synthetic benchmark text. " * 40)
        msg.add_alternative("<p>Synthetic benchmark text.</p>" * 40, subtype="html")
        async with sem:
            await aiosmtplib.send(msg, hostname="127.0.0.1", port=port, start_tls=False)

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return n / (time.perf_counter() - began)


async def load(producer: Producer, admin: asyncpg.Pool, emails: int,
               webhooks: int) -> tuple[dict[uuid.UUID, float], dict[uuid.UUID, float]]:
    """Produce the events; wait until each cause's notice is delivered; return both instants."""
    events: list[Message] = [
        sample(SlaBreached, situation_id=uuid7(), district=f"district_{1 + i % 3}", agency_id=None)
        for i in range(emails)]
    events += [sample(DisclosureSealed, situation_id=uuid7(), disclosure_id=uuid7(),
                      recipient_agency=WEBHOOK_AGENCY) for _ in range(webhooks)]
    produced_at: dict[uuid.UUID, float] = {}
    for start in range(0, len(events), 500):
        records = [emit(e, source="/commande/bench") for e in events[start:start + 500]]
        now = time.time()
        await producer.send_many(records)
        for r in records:
            produced_at[uuid.UUID(dict(r.headers)["ce_id"].decode())] = now
    causes = list(produced_at)
    deadline = time.time() + 600
    while True:
        rows = await admin.fetch(
            "SELECT cause_id, created_at, delivered_at FROM notifier.notices "
            "WHERE cause_id = ANY($1::uuid[]) AND state = 'delivered'", causes)
        if len(rows) >= len(causes):
            LAST_CREATED[0] = max(r["created_at"].timestamp() for r in rows)
            return produced_at, {r["cause_id"]: r["delivered_at"].timestamp() for r in rows}
        if time.time() > deadline:
            sys.exit(f"only {len(rows)} of {len(causes)} delivered after 600 s")
        await asyncio.sleep(0.2)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--webhooks", type=int, default=1000)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.emails, args.webhooks, args.record))
