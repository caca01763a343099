"""Driving Debian's chromium from pytest with Selenium: sign in on Keycloak's own page, look at a
page (full-page screenshot, axe-core, load time), read the network log.

Selenium Manager is never used: the driver and the browser are given explicitly
(``/usr/bin/chromedriver``, ``/usr/bin/chromium``; ``COMMANDE_CHROMEDRIVER`` and
``COMMANDE_CHROMIUM`` override them). Every driver is quit by :func:`chrome`'s context manager.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from deploy.keycloak.realm import LOCAL_PASSWORD
from services.runtime.settings import Settings

CHROMIUM = os.environ.get("COMMANDE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("COMMANDE_CHROMEDRIVER", "/usr/bin/chromedriver")
AXE_DIR = Path(__file__).with_name("axe")
SERIOUS = ("serious", "critical")


def require_browser() -> None:
    """Fail when chromium is missing, as for Kafka, PostgreSQL and Keycloak: the browser tests
    are part of the suite and never skipped (``make test`` installs it, deploy/prerequisites.sh)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).exists() or shutil.which(p))]
    if not missing:
        return
    why = (f"no browser for the console's tests: {', '.join(missing)} missing (Debian: "
           "apt-get install -y chromium chromium-driver; deploy/prerequisites.sh does it as root)")
    pytest.fail(why, pytrace=False)


def axe_source(settings: Settings) -> str:
    """axe-core's script, installed once with ``npm ci`` from the committed lock into the cache
    folder (never into the work tree); Node.js and npm are prerequisites, like for the AsyncAPI
    parser's test."""
    need = "Node.js and npm install axe-core (Debian: apt-get install -y nodejs npm)"
    assert shutil.which("npm"), need
    target = settings.cache_dir / "axe-core"
    lock = (AXE_DIR / "package-lock.json").read_bytes()
    script = target / "node_modules" / "axe-core" / "axe.min.js"
    if not ((target / "package-lock.json").exists()
            and (target / "package-lock.json").read_bytes() == lock and script.exists()):
        target.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(AXE_DIR / name, target / name)
        done = subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund", "--ignore-scripts"],
                              cwd=target, capture_output=True, text=True, timeout=280, check=False)
        assert done.returncode == 0, f"npm ci failed: {done.stderr[-2000:]}"
    return script.read_text()


@dataclass
class Report:
    """What the run measured, written to the output folder (``figures.json``, ``axe.json``)."""

    output: Path
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)
    sign_ins: list[float] = field(default_factory=list)

    def write(self) -> None:
        violations = {name: page["axe"] for name, page in self.pages.items()}
        (self.output / "axe.json").write_text(json.dumps(violations, indent=2))
        loads = {name: page["load_ms"] for name, page in self.pages.items()}
        (self.output / "figures.json").write_text(json.dumps(
            {"sign_in_seconds": self.sign_ins, "page_load_ms": loads}, indent=2))


class Browser:
    """One chromium with one person's cookies."""

    def __init__(self, driver: webdriver.Chrome, base: str, report: Report, axe: str) -> None:
        self.driver = driver
        self.base = base
        self.report = report
        self._axe = axe

    def wait(self, seconds: float = 30) -> WebDriverWait[webdriver.Chrome]:
        return WebDriverWait(self.driver, seconds)

    def go(self, path: str) -> None:
        self.driver.get(self.base + path)

    def find(self, css: str) -> WebElement:
        try:
            return self.wait().until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))
        except TimeoutException:
            main = self.driver.find_elements(By.TAG_NAME, "main")
            page = main[0].text if main else self.driver.page_source[:2000]
            raise AssertionError(f"no {css} on {self.driver.current_url}:\n{page}") from None

    def heading(self) -> str:
        return self.find("h1").text

    def sign_in(self, username: str, then: str = "/console/") -> None:
        """Sign in through Keycloak's own login page, and come back to ``then``."""
        started = time.perf_counter()
        self.go(f"/console/sign-in?next={then}")
        self.wait().until(ec.presence_of_element_located((By.ID, "username")))
        assert not self.driver.current_url.startswith(self.base), "Keycloak's page was skipped"
        self.driver.find_element(By.ID, "username").send_keys(username)
        self.driver.find_element(By.ID, "password").send_keys(LOCAL_PASSWORD)
        self.driver.find_element(By.ID, "kc-login").click()
        self.wait().until(lambda d: d.current_url == self.base + then
                          and d.execute_script("return document.readyState") == "complete")
        self.find("h1")
        self.report.sign_ins.append(round(time.perf_counter() - started, 3))

    def submit(self, form: WebElement) -> None:
        """Press a form's submit button and wait for the answer page."""
        # The page being left carries a mark; the answer page does not. (Selenium's staleness_of
        # asks about the old <html> node, which chromium may answer with an inspector error while
        # the navigation is under way: "Node with given id does not belong to the document".)
        self.driver.execute_script("window.__commandeLeaving = true;")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(self.driver, 60, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script(
                "return !window.__commandeLeaving && document.readyState === 'complete'"))
        self.find("h1")

    def look(self, name: str) -> list[dict[str, Any]]:
        """A full-page screenshot, axe-core's violations and the load time of the page shown;
        returns the serious and critical violations."""
        self.wait().until(lambda d: d.execute_script("return document.readyState") == "complete")
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot",
                                           {"format": "png", "captureBeyondViewport": True})
        (self.report.output / f"{len(self.report.pages) + 1:02d}-{name}.png").write_bytes(
            base64.b64decode(shot["data"]))
        self.driver.execute_script(self._axe)
        violations: list[dict[str, Any]] = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map(v =>"
            " ({id: v.id, impact: v.impact, help: v.help,"
            "   targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))))"
            ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e)}]));")
        load = self.driver.execute_script(
            "const n = performance.getEntriesByType('navigation')[0];"
            "return n ? Math.round(n.loadEventEnd - n.startTime) : null;")
        self.report.pages[name] = {"url": self.driver.current_url.removeprefix(self.base),
                                   "load_ms": load, "axe": violations}
        return [v for v in violations if v["impact"] in SERIOUS]

    def _performance_log(self) -> list[dict[str, Any]]:
        log: list[dict[str, Any]] = self.driver.get_log("performance")  # type: ignore[no-untyped-call]
        return log

    def requests(self) -> list[dict[str, Any]]:
        """Every request the browser sent since the last call (Chrome's performance log)."""
        out = []
        for entry in self._performance_log():
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                out.append(message["params"]["request"])
        return out

    def status_of(self, path: str) -> int | None:
        """The HTTP status of the last response for ``path`` (the performance log)."""
        found = None
        for entry in self._performance_log():
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.responseReceived":
                response = message["params"]["response"]
                if response["url"].startswith(self.base + path):
                    found = int(response["status"])
        return found


@contextmanager
def chrome(base: str, report: Report, axe: str, *, width: int = 1280,
           height: int = 900) -> Iterator[Browser]:
    """A headless chromium (quit at the end, whatever happens)."""
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--lang=en-CA", "--password-store=basic", f"--window-size={width},{height}"):
        options.add_argument(arg)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # chromium refuses to start as root otherwise
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    service = Service(executable_path=CHROMEDRIVER,
                      log_output=str(report.output / "chromedriver.log"))
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except WebDriverException as exc:
        pytest.fail(f"chromium did not start: {exc.msg}", pytrace=False)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        yield Browser(driver, base, report, axe)
    except BaseException:
        # what the browser showed when it went wrong, for whoever reads the failure
        with suppress(WebDriverException):
            stamp = time.strftime("%H%M%S")
            driver.save_screenshot(str(report.output / f"failure-{stamp}.png"))
            (report.output / f"failure-{stamp}.html").write_text(driver.page_source)
        raise
    finally:
        driver.quit()
