"""What the benchmarks share: synthetic referrals as a partner sends them, percentiles, CPU and
memory readings from ``/proc``, the machine's description and appending to ``bench/RESULTS.md``,
and how the benches' own processes connect to a stack.

Every Kafka client of a bench comes from :mod:`services.runtime.kafka_client`. The bench's own
clients (the partner's producer, readers, topic admin, the raw baselines) stand in for every role
and connect as the embedded broker's super user (:data:`HARNESS`, as the tests' harness does);
the services a bench starts connect as their own principals.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import os
import platform
import statistics
import sys
import textwrap
import timeit
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from schemas.errors import ConfigurationError
from schemas.referrals import ReferralSubmitted
from services.intake.provenance import partner_source
from services.runtime.events import emit_signed
from services.runtime.kafka import OutRecord
from services.runtime.settings import PROJECT_ROOT, Settings
from tests.support.kafka import HARNESS as HARNESS

RESULTS = Path(__file__).with_name("RESULTS.md")
SAMPLES = PROJECT_ROOT / "deploy" / "samples" / "referrals"
TOWNS = ("milton", "oakville", "burlington", "acton", "oakville", "burlington",
         "georgetown", "oakville", "burlington", "halton_hills", "oakville", "burlington")
"""Halton's municipalities, ordered so the three districts get a third of the referrals each."""
PRODUCER_SETTINGS: dict[str, Any] = {
    "enable_idempotence": True, "linger_ms": 2, "max_request_size": 4 * 1024 * 1024,
    "request_timeout_ms": 15000,
}
"""Those of ``services.runtime.kafka.Producer``, so a baseline publishes as the services do."""
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Referrals:
    """Valid referrals as a partner sends them: the steps of ``commande submit`` (``load_referral``,
    then the record signed with the agency's key, ``emit_signed``), with intake's public key looked
    up once instead of per referral. Development only: the subject is sealed to intake's synthetic
    test key (unless ``COMMANDE_INTAKE_PUBLIC_KEY`` is set) and each record is signed with its
    agency's synthetic test signing key, which the sample directory holds.

    ``sample`` names a file of ``deploy/samples/referrals`` (without ``.json``); every referral
    gets a ref never used before (``BENCH-<tag>-<prefix><n>``) and a municipality cycling over
    :data:`TOWNS`.
    """

    def __init__(self, sample: str = "milton-individual", prefix: str = "") -> None:
        from services.cli.submit_cmd import _intake_public_key_b64
        from services.intake import sealing
        from services.intake.signing import development_signing_key

        self._sealing = sealing
        self._signing_key = functools.cache(development_signing_key)
        self._template: dict[str, Any] = json.loads((SAMPLES / f"{sample}.json").read_text())
        self._public = sealing.public_key_from_b64(_intake_public_key_b64())
        self.tag = uuid.uuid4().hex[:8]
        self.prefix = prefix
        self._made = 0

    def make(self, n: int, towns: Sequence[str] = TOWNS) -> list[OutRecord]:
        """``n`` new referrals (refs never used before), as the records a partner produces,
        their municipalities cycling over ``towns``."""
        out = []
        for _ in range(n):
            i = self._made
            self._made += 1
            data = copy.deepcopy(self._template)
            data["referral_ref"] = f"BENCH-{self.tag}-{self.prefix}{i:07d}"
            data["summary"]["municipality"] = towns[i % len(towns)]
            data["submitted_at"] = datetime.now(UTC).isoformat()
            referral = ReferralSubmitted.model_validate_json(json.dumps(data))
            assert referral.subject is not None
            sealed = self._sealing.seal_subject(referral.subject, self._public)
            referral = referral.model_copy(update={"subject": None, "sealed_subject": sealed})
            referral = ReferralSubmitted.model_validate(referral.model_dump())
            out.append(emit_signed(referral, source=partner_source(referral.agency_id),
                                   key=self._signing_key(referral.agency_id)))
        return out


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``nan`` of nothing)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def per_call_us(call: Callable[[], object], *, number: int, repeat: int) -> float:
    """Microseconds per ``call()``: the median of 3 timings, each the best of ``repeat`` loops
    of ``number`` calls (pure-CPU benches on a shared, noisy machine)."""
    timings = [min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e6
               for _ in range(3)]
    return statistics.median(timings)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_kb(pid: int, field: str = "VmHWM") -> int:
    """A ``/proc/<pid>/status`` memory field in kB (``VmHWM``: peak resident set); 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pids_named(comm: str, cmdline_has: str = "") -> list[int]:
    """Processes whose ``comm`` is ``comm`` (and whose command line has ``cmdline_has``)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != comm:
                continue
            if cmdline_has and cmdline_has.encode() not in (entry / "cmdline").read_bytes():
                continue
        except OSError:
            continue
        out.append(int(entry.name))
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


class CpuMeter:
    """CPU seconds per process (group) over an interval.

    ``postgres`` sums every backend (ours and other clients'), counting only processes alive at
    the end of the interval; ``machine`` is the busy share of all CPUs.
    """

    def __init__(self, named: dict[str, int]) -> None:
        self._named = dict(named)
        self._named["bench"] = os.getpid()
        self._before: dict[str, dict[int, float]] = {}
        self._busy: tuple[float, float] = (0.0, 0.0)

    def _sample(self) -> dict[str, dict[int, float]]:
        out = {name: {pid: cpu_seconds(pid)} for name, pid in self._named.items()}
        out["postgres"] = {p: cpu_seconds(p) for p in pids_named("postgres")}
        out["kafka"] = {p: cpu_seconds(p) for p in pids_named("java", "kafka.Kafka")}
        return out

    def start(self) -> None:
        self._before = self._sample()
        self._busy = machine_busy()

    def stop(self) -> dict[str, float]:
        after = self._sample()
        busy, total = machine_busy()
        result = {name: sum(v - self._before[name].get(pid, 0.0) for pid, v in pids.items())
                  for name, pids in after.items()}
        spent = total - self._busy[1]
        result["machine"] = (busy - self._busy[0]) / spent if spent else 0.0
        return result


def cpu_text(cpu: dict[str, float]) -> str:
    """``name 1.2s, ...; machine 95% busy``."""
    parts = [f"{k} {v:.1f}s" for k, v in cpu.items() if k != "machine"]
    return ", ".join(parts) + f"; machine {cpu.get('machine', 0.0):.0%} busy"


def cpu_per_item(cpu: dict[str, float], items: int, names: Sequence[str]) -> str:
    """``intake 2.1, convening 1.9 ms per referral; together 4.0``: CPU ms per item of work."""
    if items <= 0:
        return "no items"
    each = {n: 1000 * cpu.get(n, 0.0) / items for n in names}
    return (", ".join(f"{n} {v:.2f}" for n, v in each.items())
            + f" ms; together {sum(each.values()):.2f} ms")


def machine() -> str:
    """CPUs, memory, Python and architecture of this machine."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    return (f"{os.cpu_count()} CPUs ({model}), {mem_kb / 1024 / 1024:.1f} GiB memory, "
            f"Python {platform.python_version()} on {platform.machine()}")


def record(title: str, intro: str, command: str, lines: Sequence[str]) -> None:
    """Append a section to ``bench/RESULTS.md``: title (with the UTC time), what was measured,
    the machine, the command and the figures (Markdown list lines, kept as they are)."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = [
        "", f"## {title}, {now}", "", intro, "",
        f"Machine: {machine()}; shared with the Kafka broker, PostgreSQL and other sessions' work.",
        "", f"Command: `{command}`", "", *lines, "",
    ]
    section = [textwrap.fill(line, 100, break_on_hyphens=False, break_long_words=False)
               if line and not line.startswith(("-", "#", " ")) else line for line in section]
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    RESULTS.write_text(text.rstrip("\n") + "\n" + "\n".join(section))


S = TypeVar("S", bound=Settings)


def development_stack(settings: S) -> S:
    """``settings`` when they point at a development stack; a :class:`ConfigurationError`
    otherwise. The benches publish synthetic records (some to the live topics of that stack) as
    its super user: never on a stack that serves people."""
    if not settings.development:
        raise ConfigurationError(
            "the benches publish synthetic records: run them on a development stack "
            "(COMMANDE_ENV=development, `make stack`), never against production")
    return settings


def stack_env(settings: Settings) -> dict[str, str]:
    """The environment of a child process that connects to the stack of ``settings``: this
    process's environment with the stack's mode, state folder (the broker's CA and development
    credentials live there), Kafka address and protocol, database and SMTP sink."""
    return {
        **os.environ,
        "COMMANDE_ENV": settings.env,
        "COMMANDE_STATE_DIR": str(settings.state_dir),
        "COMMANDE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "COMMANDE_KAFKA_SECURITY_PROTOCOL": settings.kafka_security_protocol,
        "COMMANDE_DATABASE_URL": settings.database_url.get_secret_value(),
        "COMMANDE_SMTP_HOST": settings.smtp_host,
        "COMMANDE_SMTP_PORT": str(settings.smtp_port),
    }


async def start_raw_loop(settings: Settings, source: str, sink: str, group: str
                         ) -> asyncio.subprocess.Process:
    """``bench.intake``'s raw consume-and-produce loop (the baselines) as a process: one record
    out on ``sink`` per record in on ``source``; returns once it says it is ready. It connects
    to the stack of ``settings`` (passed in its environment) as :data:`HARNESS`."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.intake", "--raw-loop", source, sink, group,
        cwd=PROJECT_ROOT, env=stack_env(settings), stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    if line.strip() != b"ready":
        raise SystemExit(f"the raw loop {group} did not start (exit {proc.returncode})")
    return proc
