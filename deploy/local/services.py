"""Running the services as OS processes: the demo, e2e and reliability tests, benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.runtime.settings import Settings


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServiceProcess:
    """``commande run <which>`` as a child process with its own HTTP port and log file."""

    which: str
    settings: Settings
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    """Health, readiness and metrics (``--admin-port``)."""
    python_args: tuple[str, ...] = ()
    """Interpreter arguments before ``-m services.cli`` (``-m cProfile -o FILE`` for a profile)."""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.which}-{self.port}.log"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "COMMANDE_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap,
            "COMMANDE_DATABASE_URL": self.settings.database_url.get_secret_value(),
            "COMMANDE_SMTP_HOST": self.settings.smtp_host,
            "COMMANDE_SMTP_PORT": str(self.settings.smtp_port),
            "COMMANDE_STATE_DIR": str(self.settings.state_dir),
            "COMMANDE_ENV": self.settings.env,
            **self.extra_env,
        }

    def start(self, *, ready_within: float = 60.0) -> ServiceProcess:
        """Start and wait until ``/ready`` says so."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, *self.python_args, "-m", "services.cli", "run", self.which,
                 "--port", str(self.port), "--admin-port", str(self.admin_port)],
                stdout=log, stderr=subprocess.STDOUT, env=self.env(), start_new_session=True)
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.which} exited with {self.proc.returncode}; see {self.log_file}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.admin_port}/ready",
                             timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.which} not ready within {ready_within}s; see {self.log_file}")

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait; returns the exit code (SIGKILL after ``timeout``)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill(self) -> None:
        """kill -9."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def logs(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
