"""Browser tests: the real server (``claimbridge --config … web --port N``, waitress, a subprocess) over the same
data as tests/web (demo claims, two of them held; users admin, biller, viewer), driven by a real headless
Chromium through Playwright.

Playwright drives the Debian ``chromium`` package (``/usr/bin/chromium``, or ``CLAIMBRIDGE_CHROMIUM``); it never
downloads a browser of its own. Without Chromium or the ``playwright`` package the tests are skipped with the
install hint."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from claimbridge.web.auth import create_token
from tests.web.conftest import PASSWORD, world  # noqa: F401 - the fixture, shared with tests/web

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

CHROMIUM = Path(os.environ.get("CLAIMBRIDGE_CHROMIUM", "/usr/bin/chromium"))
INSTALL_HINT = ("as root: apt-get install chromium; and pip install -e '.[test]' (playwright) "
                "— or run scripts/test, which installs both")
# Chromium in a container without a display, GPU or network: these keep it from trying to reach Google.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (Playwright gives it a fresh temporary --user-data-dir); each test
    gets a context of its own (cookies, storage)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: {INSTALL_HINT}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(f"the playwright package is missing: {INSTALL_HINT}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``claimbridge web`` running over ``world``'s configuration."""

    def __init__(self, made, base: str):
        self.world, self.base = made, base
        self._token: str | None = None

    def url(self, path: str = "/") -> str:
        return self.base + path

    def api(self, path: str) -> requests.Response:
        """GET an API resource as admin, with an API token."""
        if self._token is None:
            self._token = create_token(self.world.store, "admin", "browser tests")
        return requests.get(self.url("/api/v1" + path), headers={"Authorization": f"Bearer {self._token}"},
                            timeout=10)


@pytest.fixture
def server(world):  # noqa: F811 - the imported fixture
    port = _free_port()
    log = Path(world.config_path).parent / "web.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "claimbridge.cli", "--config", str(world.config_path),
                                    "web", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"claimbridge web exited ({process.returncode}):\n{log.read_text()}")
            try:
                if requests.get(f"{base}/healthz", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"claimbridge web did not answer within 30 s:\n{log.read_text()}")
            time.sleep(0.1)
        yield Server(world, base)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def sign_in(page, server: Server, username: str, password: str = PASSWORD) -> None:
    page.goto(server.url("/login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
