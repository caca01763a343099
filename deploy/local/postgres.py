"""The embedded PostgreSQL: a cluster in the project's state folder, from the system's binaries."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from deploy.local import procs
from schemas.errors import ConfigurationError
from services.runtime.settings import Settings

SERVER_USER = "postgres"


@dataclass(frozen=True, slots=True)
class PgPaths:
    """Where the cluster and its log live."""

    home: Path

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def log(self) -> Path:
        return self.home / "postgres.log"


def paths(settings: Settings) -> PgPaths:
    """The cluster's paths for these settings."""
    return PgPaths(home=settings.state_dir / "postgres")


def bindir() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``; installs Debian's package when root and missing."""
    found = _find_bindir()
    if found is not None:
        return found
    if os.geteuid() == 0 and Path("/etc/debian_version").exists():
        subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True)
        inst = subprocess.run(
            ["apt-get", "install", "-y", "-q", "postgresql"],
            capture_output=True, text=True, check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = _find_bindir()
        if found is not None:
            return found
        raise ConfigurationError(f"`apt-get install -y postgresql` failed:\n{inst.stderr[-1500:]}")
    raise ConfigurationError(
        "PostgreSQL's server binaries (initdb, pg_ctl) are missing: install PostgreSQL 14 or newer "
        "(Debian/Ubuntu: sudo apt-get install -y postgresql; macOS: brew install postgresql) "
        "or point COMMANDE_DATABASE_URL at a server you run yourself"
    )


def _find_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    for cand in reversed(candidates):
        if (Path(cand) / "initdb").exists():
            return Path(cand)
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _run_as() -> str | None:
    """initdb refuses root: as root, run the server as the ``postgres`` user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError as exc:
        raise ConfigurationError(
            "running as root, the PostgreSQL server needs the `postgres` user to run as: "
            "`apt-get install -y postgresql` creates it"
        ) from exc
    return SERVER_USER


def _chown_tree(path: Path, user: str | None) -> None:
    if user is None:
        return
    ent = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, ent.pw_uid, ent.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), ent.pw_uid, ent.pw_gid)


def _make_reachable(path: Path) -> None:
    """The server user must be able to traverse every parent of its data folder."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _pg_ctl(bin_: Path, user: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_ / "pg_ctl"), *args], capture_output=True, text=True,
                          check=False, **_as(user))


def _as(user: str | None) -> dict[str, Any]:
    """Run a child as ``user`` with that user's own group only (not root's)."""
    if user is None:
        return {}
    ent = pwd.getpwnam(user)
    return {"user": ent.pw_uid, "group": ent.pw_gid, "extra_groups": []}


def running(settings: Settings) -> bool:
    """Whether our cluster's postmaster runs."""
    pp = paths(settings)
    pidfile = pp.data / "postmaster.pid"
    if not pidfile.exists():
        return False
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (ValueError, IndexError):
        return False
    return procs.pid_alive(pid)


def start(settings: Settings) -> str:
    """Initialise the cluster once, start it, and create the role and database."""
    pp = paths(settings)
    port = settings.database_port
    if running(settings):
        return f"postgres already running on 127.0.0.1:{port}"
    procs.require_free(port, "PostgreSQL", "COMMANDE_DATABASE_URL")
    bin_ = bindir()
    user = _run_as()
    pp.home.mkdir(parents=True, exist_ok=True)
    if user is not None:
        _make_reachable(pp.home)
        _chown_tree(pp.home, user)
    if not (pp.data / "PG_VERSION").exists():
        init = subprocess.run(
            [str(bin_ / "initdb"), "-D", str(pp.data), "-U", settings.database_user,
             "--auth=trust", "-E", "UTF8", "--locale=C"],
            capture_output=True, text=True, check=False, **_as(user),
        )
        if init.returncode != 0:
            raise ConfigurationError(f"initdb failed:\n{init.stdout}{init.stderr}")
    # pg_stat_statements: what the benches read to say which statements cost (bench.pipeline).
    opts = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' "
            "-c max_connections=200 -c shared_buffers=128MB "
            "-c shared_preload_libraries=pg_stat_statements")
    started = _pg_ctl(bin_, user, "-D", str(pp.data), "-l", str(pp.log), "-o", opts,
                      "-w", "-t", "60", "start")
    if started.returncode != 0:
        raise ConfigurationError(
            f"PostgreSQL did not start: {started.stderr.strip()}\nits log ends:\n{procs.tail(pp.log)}"
        )
    _create_database(bin_, settings, user)
    return f"postgres started on 127.0.0.1:{port}"


def _create_database(bin_: Path, settings: Settings, user: str | None) -> None:
    deadline = time.monotonic() + 20
    while True:
        made = subprocess.run(
            [str(bin_ / "createdb"), "-h", "127.0.0.1", "-p", str(settings.database_port),
             "-U", settings.database_user, settings.database_name],
            capture_output=True, text=True, check=False, **_as(user),
        )
        if made.returncode == 0 or "already exists" in made.stderr:
            return
        if time.monotonic() > deadline:
            raise ConfigurationError(f"could not create the database: {made.stderr.strip()}")
        time.sleep(0.3)


def stop(settings: Settings, mode: Literal["smart", "fast", "immediate"] = "fast") -> str:
    """Stop our cluster (``fast`` shutdown; ``immediate`` aborts like a crash, for fault tests)."""
    if not running(settings):
        return "postgres was not running"
    pp = paths(settings)
    res = _pg_ctl(bindir(), _run_as(), "-D", str(pp.data), "-m", mode, "-w", "stop")
    if res.returncode != 0:
        raise ConfigurationError(f"pg_ctl stop failed: {res.stderr.strip()}")
    return "postgres stopped"


def status(settings: Settings) -> str:
    """One line: whether the cluster runs, where, which version."""
    if not running(settings):
        return "postgres    stopped"
    pp = paths(settings)
    version = (pp.data / "PG_VERSION").read_text().strip()
    return (f"postgres    running  127.0.0.1:{settings.database_port}  PostgreSQL {version}  "
            f"database {settings.database_name}  data {pp.data}")
