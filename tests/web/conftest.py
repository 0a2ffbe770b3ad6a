"""The admin UI and API over a real store: demo encounters pulled and built into claims (some held), one user per
role, Flask's test client (the same WSGI app waitress serves)."""

from __future__ import annotations

import re

import pytest

from claimbridge.web import create_app
from claimbridge.web.auth import add_user, create_token
from tests.claims.test_worklist import World

PASSWORD = "correct horse battery"


@pytest.fixture
def world(tmp_path, db_url):
    made = World(tmp_path, db_url)
    # enc-028 (90837 for 41 minutes) and enc-031 (90833 without E/M) are held by the scrubber; enc-026 cannot build
    made.pull("enc-001", "enc-002", "enc-003", "enc-026", "enc-028", "enc-031")
    for role in ("admin", "biller", "viewer"):
        add_user(made.store, role, PASSWORD, role)
    yield made
    made.close()


@pytest.fixture
def app(world):
    app = create_app(world.runtime)
    app.config["TESTING"] = True
    app.extensions["claimbridge_reports"].ttl = 0  # tests change data between reads: no report snapshots
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def login(client, username: str, password: str = PASSWORD, *, follow: bool = False):
    page = client.get("/login")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       follow_redirects=follow)


def csrf_of(client) -> str:
    """The session's CSRF token, as a signed-in page carries it."""
    page = client.get("/held")
    return re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()


@pytest.fixture
def as_role(app):
    """A test client signed in as ``role``."""

    def make(role: str):
        client = app.test_client()
        assert login(client, role).status_code == 302
        return client

    return make


@pytest.fixture
def token_for(world):
    def make(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {create_token(world.store, role, 'tests')}"}

    return make
