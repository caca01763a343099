"""The embedded Keycloak: the identity provider people and partner systems sign in with.

The distribution (``org.keycloak:keycloak-quarkus-dist``, a zip on Maven Central) is resolved by
Maven into the cache once and run from there with ``kc.sh start-dev`` on the installed JDK, bound
to 127.0.0.1. Everything that changes (its H2 database, log, pid, the bootstrap admin's password,
the digest of the imported realm) lives in ``<state>/keycloak``, so several stacks on one machine
share the distribution but nothing else.

The hostname is pinned (``--hostname=http://127.0.0.1:<port>``): ``iss`` in every token is then
``http://127.0.0.1:<port>/realms/commande`` whatever host name a client used.

The realm is imported from ``deploy/keycloak/commande-realm.json`` through the admin API once
Keycloak answers, and imported again when that file changed (its SHA-256 is kept in the state
folder), so an edited realm never needs a hand-deleted database.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from deploy.keycloak.realm import REALM, REALM_FILE
from deploy.local import procs
from schemas.errors import ConfigurationError
from services.runtime.settings import PROJECT_ROOT, Settings

POM = PROJECT_ROOT / "deploy" / "keycloak" / "pom.xml"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
HEAP = "-Xms64m -Xmx512m"
ADMIN = "admin"
START_TIMEOUT = 240.0
"""A first start rebuilds the server for dev mode (~20 s alone) and imports; on a busy 2-core
machine it has taken a minute."""


@dataclass(frozen=True, slots=True)
class KeycloakPaths:
    """Where the distribution (shared, in the cache) and this stack's state live."""

    cache: Path
    home: Path
    version: str

    @property
    def dist(self) -> Path:
        """The unpacked server (``bin/kc.sh``)."""
        return self.cache / f"keycloak-{self.version}"

    @property
    def log(self) -> Path:
        return self.home / "keycloak.log"

    @property
    def pid(self) -> Path:
        return self.home / "keycloak.pid"

    @property
    def admin_password(self) -> Path:
        """The bootstrap admin's password (made at the first start; the admin API needs it)."""
        return self.home / "admin.password"

    @property
    def realm_digest(self) -> Path:
        return self.home / "realm.sha256"


def paths(settings: Settings) -> KeycloakPaths:
    """Keycloak's paths for these settings."""
    return KeycloakPaths(cache=settings.cache_dir / f"keycloak-{settings.keycloak_version}",
                         home=settings.state_dir / "keycloak", version=settings.keycloak_version)


def base_url(settings: Settings) -> str:
    """Where the embedded Keycloak answers (and the pinned host name of its tokens)."""
    return f"http://127.0.0.1:{settings.keycloak_port}"


def issuer(settings: Settings) -> str:
    """The ``iss`` of the local realm's tokens."""
    return f"{base_url(settings)}/realms/{REALM}"


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """One stack at a time resolves the distribution or starts it: a first start in dev mode
    rewrites the distribution's ``lib/quarkus``, which two starts must not do together."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise ConfigurationError(
            "no Java found: Keycloak needs a JDK 17 or newer "
            "(Debian: apt-get install -y openjdk-17-jre-headless)")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)', out)
    if match is None or int(match.group(1)) < 17:
        raise ConfigurationError(f"Keycloak needs Java 17 or newer; `java -version` says: {out!r}")
    return java


def resolve(settings: Settings) -> Path:
    """Resolve and unpack the distribution with Maven into the cache (once); returns its folder.

    Call with the cache lock held.
    """
    kp = paths(settings)
    marker = kp.cache / ".complete"
    if marker.exists() and (kp.dist / "bin" / "kc.sh").exists():
        return kp.dist
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ConfigurationError(
            "no Maven found: it resolves Keycloak from Maven Central (Debian: apt-get install -y maven)")
    # The plugin keeps its "already unpacked" markers in the cache too, never in the work tree.
    proc = subprocess.run(
        [mvn, "-q", "-B", "-f", str(POM), f"{DEPENDENCY_PLUGIN}:unpack-dependencies",
         f"-DoutputDirectory={kp.cache}", f"-DmarkersDirectory={kp.cache / '.markers'}",
         f"-Dkeycloak.version={settings.keycloak_version}"],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0 or not (kp.dist / "bin" / "kc.sh").exists():
        output = (proc.stdout + proc.stderr)[-2000:]
        if re.search(r"UnknownHost|Could not transfer|Connection refused|timed out", output):
            raise ConfigurationError(
                "Maven could not reach Maven Central to download Keycloak; check the network or a "
                f"proxy in ~/.m2/settings.xml. Maven said:\n{output}")
        raise ConfigurationError(f"Maven failed to resolve Keycloak {settings.keycloak_version}:\n{output}")
    marker.write_text(settings.keycloak_version + "\n")
    return kp.dist


def _admin_password(kp: KeycloakPaths) -> str:
    if not kp.admin_password.exists():
        kp.home.mkdir(parents=True, exist_ok=True)
        kp.admin_password.touch(mode=0o600)
        kp.admin_password.write_text(secrets.token_urlsafe(24) + "\n")
    return kp.admin_password.read_text().strip()


def ready(settings: Settings) -> bool:
    """Whether the realm's discovery document answers (Keycloak up, realm imported)."""
    try:
        answer = httpx.get(f"{issuer(settings)}/.well-known/openid-configuration", timeout=2.0)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


def start(settings: Settings) -> str:
    """Start Keycloak unless it runs, then import the realm if it is missing or changed; returns
    a line for the status report (with how long the start took)."""
    kp = paths(settings)
    if procs.read_pid(kp.pid) is not None:
        return f"keycloak already running on 127.0.0.1:{settings.keycloak_port}; " + import_realm(settings)
    procs.require_free(settings.keycloak_port, "Keycloak", "COMMANDE_KEYCLOAK_PORT")
    _java()
    password = _admin_password(kp)
    began = time.monotonic()
    with _locked(kp.cache):
        dist = resolve(settings)
        resolved = time.monotonic()
        port = settings.keycloak_port
        argv = [str(dist / "bin" / "kc.sh"), "start-dev", "--http-host=127.0.0.1",
                f"--http-port={port}", f"--hostname={base_url(settings)}",
                f"--db-url-path={kp.home}"]
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "JAVA_OPTS_KC_HEAP": HEAP,
               "JAVA_OPTS_APPEND": "-Djava.awt.headless=true",
               # Creates the master realm's admin on the first start only (empty database).
               "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN, "KC_BOOTSTRAP_ADMIN_PASSWORD": password}
        if java_home := _java_home():
            env["JAVA_HOME"] = java_home
        kp.log.write_text("")
        procs.spawn(argv, kp.log, kp.pid, env=env)
        _wait_started(settings, kp)
    started = time.monotonic()
    imported = import_realm(settings)
    return (f"keycloak {settings.keycloak_version} started on 127.0.0.1:{settings.keycloak_port} in "
            f"{started - resolved:.1f}s (issuer {issuer(settings)}); {imported}"
            + (f"; resolved by Maven in {resolved - began:.0f}s" if resolved - began > 5 else ""))


def _java_home() -> str | None:
    java = shutil.which("java")
    return str(Path(java).resolve().parents[1]) if java else None


def _wait_started(settings: Settings, kp: KeycloakPaths, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    url = f"{base_url(settings)}/realms/master"
    while time.monotonic() < deadline:
        if procs.read_pid(kp.pid) is None:
            raise ConfigurationError(f"Keycloak exited at start; its log ends:\n{procs.tail(kp.log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        time.sleep(0.3)
    raise ConfigurationError(
        f"Keycloak did not answer within {timeout:.0f}s; its log ends:\n{procs.tail(kp.log)}")


def import_realm(settings: Settings) -> str:
    """Import ``commande-realm.json`` unless the running Keycloak has this very file's realm."""
    kp = paths(settings)
    text = REALM_FILE.read_bytes()
    digest = hashlib.sha256(text).hexdigest()
    base = base_url(settings)
    with httpx.Client(base_url=base, timeout=60.0) as http:
        token = http.post("/realms/master/protocol/openid-connect/token", data={
            "grant_type": "password", "client_id": "admin-cli", "username": ADMIN,
            "password": _admin_password(kp)})
        if token.status_code != 200:
            raise ConfigurationError(
                f"Keycloak refused its bootstrap admin ({token.status_code}): the database in "
                f"{kp.home} was made with another password; `commande stack down`, delete that "
                "folder and start again")
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        exists = http.get(f"/admin/realms/{REALM}", headers=auth).status_code == 200
        if exists and kp.realm_digest.exists() and kp.realm_digest.read_text().strip() == digest:
            return f"realm {REALM} up to date"
        if exists:
            http.delete(f"/admin/realms/{REALM}", headers=auth).raise_for_status()
        made = http.post("/admin/realms", headers={**auth, "Content-Type": "application/json"},
                         content=text)
        if made.status_code != 201:
            raise ConfigurationError(
                f"Keycloak refused the realm {REALM_FILE} ({made.status_code}): {made.text[:500]}")
    kp.realm_digest.write_text(digest + "\n")
    users = len(json.loads(text)["users"])
    return f"realm {REALM} {'re-imported' if exists else 'imported'} ({users} synthetic sign-ins)"


def stop(settings: Settings) -> str:
    """Stop the Keycloak we started (and nothing else)."""
    if procs.stop_pid(paths(settings).pid, timeout=30):
        return "keycloak stopped"
    return "keycloak was not running"


def status(settings: Settings) -> str:
    """One line: whether Keycloak runs, where, with which issuer."""
    kp = paths(settings)
    pid = procs.read_pid(kp.pid)
    if pid is None:
        return "keycloak    stopped"
    return (f"keycloak    running  pid {pid}  127.0.0.1:{settings.keycloak_port}  "
            f"Keycloak {settings.keycloak_version}  issuer {issuer(settings)}  log {kp.log}")
