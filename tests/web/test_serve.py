"""`folio serve` end to end: a fresh install comes up, answers, and stops without orphans."""

import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, wait_until

# The server gets a SQLite database of its own (it migrates and seeds it), whichever backend
# the suite runs on, so one run covers it.
pytestmark = [
    pytest.mark.sqlite_only,
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds child processes via /proc"),
]

ADMIN_PASSWORD = "serve-test-admin-pass-9"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_serve_starts_answers_and_stops_cleanly(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        FOLIO_VAR=str(tmp_path / "var"),
        FOLIO_DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 'folio.sqlite3'}",
        FOLIO_ADMIN_PASSWORD=ADMIN_PASSWORD,
        FOLIO_DEMO_PASSWORD="demo-users-pass-9",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("FOLIO_SECRET_KEY", None)
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed in finally
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "folio",
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--web-workers",
            "1",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so cleanup can reach every child
    )
    try:

        def health():
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                with urllib.request.urlopen(f"{base}/api/health", timeout=2) as r:  # noqa: S310
                    return json.load(r)
            except OSError:
                return None

        # A first start migrates, collects static files and seeds the demo: over a minute on
        # a loaded 2-CPU machine (the migrations alone take 15–40 s there).
        assert wait_until(health, timeout=150, interval=0.2, what="folio serve")["status"] == "ok"

        plain = urllib.request.build_opener(NoRedirect)
        with urllib.request.urlopen(f"{base}/login/", timeout=5) as r:  # noqa: S310
            assert r.status == 200
        with pytest.raises(urllib.error.HTTPError) as redirect:
            plain.open(f"{base}/api/docs", timeout=5)
        assert redirect.value.code == 302
        assert redirect.value.headers["Location"].startswith("/login/?next=/api/docs")

        # The administrator signs in with FOLIO_ADMIN_PASSWORD through the login form.
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        browser.open(f"{base}/login/", timeout=5).read()
        csrf = next(c.value for c in jar if c.name == "csrftoken")
        form = urllib.parse.urlencode(
            {"username": "admin", "password": ADMIN_PASSWORD, "csrfmiddlewaretoken": csrf}
        ).encode()
        with browser.open(f"{base}/login/", data=form, timeout=10) as r:
            assert r.status == 200 and r.url == f"{base}/"
        with browser.open(f"{base}/api/v1/me", timeout=5) as r:
            me = json.load(r)
        assert me["username"] == "admin" and me["roles"] == ["admin"]
        assert "Administrator created" in (tmp_path / "serve.log").read_text()

        # Web server (and its workers), job worker and scheduler are all running.
        children = wait_until(
            lambda: found if len(found := descendants(serve.pid)) >= 4 else None,
            timeout=20,
            what="gunicorn, its worker, the job worker and the scheduler",
        )

        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=30) == 0
        wait_until(
            lambda: not any(alive(pid) for pid in children),
            timeout=10,
            what=f"children {children} to exit",
        )
        output = (tmp_path / "serve.log").read_text()
        assert "Folio stopped." in output
        assert "Traceback" not in output, output
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()
        log.close()
