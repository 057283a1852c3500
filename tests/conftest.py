"""Shared fixtures: users of each role, API clients authenticated by real tokens, and the
environment for tests that start real `folio` processes against the test database."""

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.test import Client

from folio.accounts import services
from folio.accounts.roles import ROLES

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def make_user(db):
    def make(role: str, username: str | None = None, password: str = "correct-horse-battery-9"):
        return services.create_user(username or f"{role}-user", roles=[role], password=password)

    return make


@pytest.fixture
def api_client(make_user):
    """api_client("viewer") → a Django test client sending that role's fresh API token."""

    def make(role: str = "admin", username: str | None = None):
        user = make_user(role, username or f"api-{role}")
        token, text = services.create_token(user, f"{role} test token")
        client = Client(HTTP_AUTHORIZATION=f"Bearer {text}")
        client.user = user
        client.token = token
        client.token_text = text
        return client

    return make


@pytest.fixture
def var_dir(settings, tmp_path):
    """A var folder of this test's own: uploads, imports' staged and kept files."""
    settings.VAR_DIR = tmp_path / "var"
    settings.VAR_DIR.mkdir()
    return settings.VAR_DIR


@pytest.fixture(params=sorted(ROLES))
def each_role(request):
    return request.param


def wait_until(predicate, *, timeout: float = 30.0, interval: float = 0.05, what: str = ""):
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def test_database_url() -> str:
    """A FOLIO_DATABASE_URL that points a subprocess at the database this test uses."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = quote(s["USER"] or "", safe="")
    if s["PASSWORD"]:
        auth += ":" + quote(s["PASSWORD"], safe="")
    host = s["HOST"] or "localhost"
    port = f":{s['PORT']}" if s["PORT"] else ""
    return f"postgresql://{auth}@{host}{port}/{s['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


@pytest.fixture
def folio_env(transactional_db):
    """Environment for a `python -m folio …` subprocess that shares this test's database.

    The test must commit what the subprocess should see, hence transactional_db. The
    subprocess uses Folio's real settings (not tests.settings), as an operator's would.
    """
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["FOLIO_DATABASE_URL"] = test_database_url()
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_folio(args, env, *, input: str | None = None, timeout: float = 60):
    """Run `python -m folio ARGS` from the repository (so tests.* job modules import)."""
    return subprocess.run(
        [sys.executable, "-m", "folio", *args],
        cwd=REPO,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def worker_process(folio_env, tmp_path):
    """start() → a running `python -m folio worker`; every one started is stopped afterwards."""
    started = []

    def start():
        log = open(tmp_path / f"worker-{len(started)}.log", "w")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(
            [sys.executable, "-m", "folio", "worker"],
            cwd=REPO,
            env=folio_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        proc.log = log
        proc.log_path = log.name
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.log.close()


pytest_plugins = ["tests.fixtures.catalog", "tests.fixtures.demo"]
