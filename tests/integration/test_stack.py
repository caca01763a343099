"""`commande stack up | status | down` on its own ports and state folder, beside the test stack."""

from __future__ import annotations

import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from services.runtime.settings import Settings

pytestmark = pytest.mark.integration


def _free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port: int = a.getsockname()[1]
        if port < 60000 and all(_free(p) for p in (port, port + 1)):
            return port
    raise RuntimeError("no free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def env(settings: Settings) -> Iterator[dict[str, str]]:
    # Not under pytest's temporary folder: pytest resets its root to 0700 at every session start,
    # and PostgreSQL runs as its own user, which must traverse the path to its data.
    state = Path(tempfile.mkdtemp(prefix="commande-stack-test-"))
    kafka = _free_port_pair()
    pg = _free_port_pair()
    smtp = _free_port_pair()
    idp = _free_port_pair()
    yield {
        **os.environ,
        "COMMANDE_STATE_DIR": str(state / "state"),
        "COMMANDE_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
        "COMMANDE_DATABASE_URL": f"postgresql://commande@127.0.0.1:{pg}/commande",
        "COMMANDE_SMTP_PORT": str(smtp),
        "COMMANDE_KEYCLOAK_PORT": str(idp),
        "COMMANDE_CACHE_DIR": str(settings.cache_dir),
    }
    shutil.rmtree(state, ignore_errors=True)


def commande(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.timeout(600)
def test_up_status_down_twice_and_the_sink_keeps_mail(env: dict[str, str]) -> None:
    """The whole stack twice, Keycloak included (its first start imports the realm)."""
    try:
        for _ in range(2):
            up = commande(env, "stack", "up")
            assert up.returncode == 0, up.stderr
            again = commande(env, "stack", "up")
            assert again.returncode == 0, again.stderr
            assert "already running" in again.stdout
            assert "all present" in again.stdout
            status = commande(env, "stack", "status")
            assert status.stdout.count("running") == 4, status.stdout
            assert f"127.0.0.1:{env['COMMANDE_KEYCLOAK_PORT']}/realms/commande" in status.stdout
            assert env["COMMANDE_KAFKA_BOOTSTRAP"] in status.stdout

            msg = EmailMessage()
            msg["From"] = "notifier@commande.example.org"
            msg["To"] = "cmb.d2@hrps.example.org"
            msg["Subject"] = "COMMANDE table: agenda"
            msg.set_content("synthetic")
            with (smtplib.SMTP("127.0.0.1", int(env["COMMANDE_SMTP_PORT"])) as smtp,
                  pytest.raises(smtplib.SMTPSenderRefused, match="STARTTLS")):
                smtp.send_message(msg)  # the sink, like a real relay, wants TLS first
            ca = Path(env["COMMANDE_STATE_DIR"]) / "kafka" / "tls" / "ca.pem"
            with smtplib.SMTP("127.0.0.1", int(env["COMMANDE_SMTP_PORT"])) as smtp:
                smtp.starttls(context=ssl.create_default_context(cafile=str(ca)))
                smtp.send_message(msg)
            mail = commande(env, "stack", "mail", "--to", "cmb.d2@hrps.example.org")
            assert "COMMANDE table: agenda" in mail.stdout

            down = commande(env, "stack", "down")
            assert down.returncode == 0, down.stderr
            assert commande(env, "stack", "status").stdout.count("stopped") == 4
            assert "was not running" in commande(env, "stack", "down").stdout
    finally:
        commande(env, "stack", "down")


def test_a_taken_port_is_named_with_the_fix(env: dict[str, str]) -> None:
    port = int(env["COMMANDE_SMTP_PORT"])
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        try:
            res = commande(env, "stack", "up")
        finally:
            commande(env, "stack", "down")
    assert res.returncode == 2
    assert f"port {port} on 127.0.0.1 is taken" in res.stderr
    assert "COMMANDE_SMTP_PORT" in res.stderr


def test_a_stale_pid_file_is_cleaned_up(env: dict[str, str]) -> None:
    pid_file = Path(env["COMMANDE_STATE_DIR"]) / "smtp" / "smtp.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text("999999\n")
    status = commande(env, "stack", "status")
    assert "smtp sink   stopped" in status.stdout
    assert not pid_file.exists()
