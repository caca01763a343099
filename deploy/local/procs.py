"""Process bookkeeping for the local stack: pid files, liveness, ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from schemas.errors import ConfigurationError


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie of ours)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file`` if that process still runs; removes a stale file."""
    if not pid_file.exists():
        return None
    try:
        pid = int(pid_file.read_text().strip())
    except ValueError:
        pid_file.unlink()
        return None
    if pid_alive(pid):
        return pid
    pid_file.unlink()
    return None


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def require_free(port: int, what: str, setting: str) -> None:
    """Fail with the fix when ``port`` is already taken by something we did not start."""
    if port_open(port):
        raise ConfigurationError(
            f"port {port} on 127.0.0.1 is taken, so {what} cannot start there: stop what runs on "
            f"it (`ss -ltnp 'sport = :{port}'` shows it) or set {setting} to a free port"
        )


def spawn(argv: list[str], log_file: Path, pid_file: Path, env: dict[str, str] | None = None,
          user: str | None = None) -> int:
    """Start ``argv`` detached (own session), output to ``log_file``, pid recorded in ``pid_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env, user=user,
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def stop_pid(pid_file: Path, timeout: float = 20.0) -> bool:
    """SIGTERM the recorded process group, SIGKILL after ``timeout``; False if none was running."""
    pid = read_pid(pid_file)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    pid_file.unlink(missing_ok=True)
    return True


def tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log file, for error messages."""
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
