"""``claimbridge users``, ``claimbridge tokens`` and ``claimbridge web`` as a user runs them."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import requests
from click.testing import CliRunner

from claimbridge.cli import main
from tests.web.conftest import PASSWORD


def run(world, *args: str, stdin: str | None = None, ok: bool = True):
    result = CliRunner().invoke(main, ["--config", str(world.config_path), *args], input=stdin)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_users_and_tokens_from_the_command_line(world):
    assert run(world, "users", "add", "dana", "--role", "biller", "--password-stdin",
               stdin=PASSWORD + "\n").output.strip() == "user dana added (biller)"
    weak = run(world, "users", "add", "eli", "--role", "viewer", "--password-stdin", stdin="short\n", ok=False)
    assert weak.exit_code == 1 and "at least 12 characters" in weak.output
    rows = {row["username"]: row for row in json.loads(run(world, "users", "list", "--json").output)}
    assert rows["dana"]["role"] == "biller" and not rows["dana"]["disabled"]
    assert run(world, "users", "role", "dana", "viewer").output.strip() == "dana is now viewer"
    token = run(world, "tokens", "create", "dana", "--name", "exporter").stdout.strip().splitlines()[0]
    assert token.startswith("cbt_") and len(token) > 40
    assert run(world, "tokens", "revoke", token[:12]).output.strip() == "1 token(s) revoked"
    assert run(world, "tokens", "revoke", token[:12], ok=False).exit_code == 1
    assert run(world, "users", "disable", "dana").output.strip() == "dana disabled"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_claimbridge_web_serves_with_waitress_and_asks_for_credentials(world):
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "claimbridge.cli", "--config", str(world.config_path), "web",
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                health = requests.get(f"{base}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise AssertionError(process.stderr.read() if process.poll() is not None else "web did not start")
        assert health.json() == {"ok": True} and health.headers["Server"] == "claimbridge"
        denied = requests.get(f"{base}/api/v1/claims", timeout=5)
        assert denied.status_code == 401 and denied.json()["error"]["code"] == "unauthorized"
        page = requests.get(f"{base}/login", timeout=5)
        assert page.status_code == 200 and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    finally:
        process.terminate()
        process.wait(timeout=10)
