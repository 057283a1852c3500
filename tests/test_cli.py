"""The `folio` command: real console script and real processes, one-line errors."""

import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from folio.accounts import services
from folio.accounts.models import ApiToken
from tests.conftest import REPO, run_folio

FOLIO = Path(sys.executable).parent / "folio"


def test_user_create_reads_password_from_stdin(db, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-enough-pass-9\n"))
    out = io.StringIO()
    call_command(
        "user", "create", "cora", "--role", "catalog_editor", "--password-stdin", stdout=out
    )
    assert out.getvalue().strip() == "created cora (catalog_editor)"
    user = services.get_user("cora")
    assert user.check_password("a-long-enough-pass-9")
    assert user.has_perm("catalog.change_product")


def test_user_commands_report_mistakes_as_command_errors(db, monkeypatch):
    services.create_user("cora", roles=["viewer"])
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-enough-pass-9\n"))
    with pytest.raises(CommandError, match="exists already"):
        call_command("user", "create", "cora", "--role", "viewer", "--password-stdin")
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        call_command("user", "deactivate", "ghost")


def test_user_deactivate_command_revokes_tokens(make_user):
    user = make_user("viewer", "vic")
    token, _ = services.create_token(user, "ci")
    call_command("user", "deactivate", "vic", stdout=io.StringIO())
    token.refresh_from_db()
    assert token.revoked_at is not None
    user.refresh_from_db()
    assert not user.is_active


def test_token_create_in_a_real_process(folio_env, make_user):
    make_user("viewer", "ci-bot")
    result = run_folio(["token", "create", "--user", "ci-bot", "--name", "deploy"], folio_env)
    assert result.returncode == 0, result.stderr
    text = result.stdout.strip()
    assert "not shown again" in result.stderr
    assert text not in result.stderr
    me = Client(HTTP_AUTHORIZATION=f"Bearer {text}").get("/api/v1/me")
    assert me.json()["username"] == "ci-bot"
    assert ApiToken.objects.get(name="deploy").user.username == "ci-bot"


# --- the installed console script, on a database of its own -----------------------------------


@pytest.fixture(scope="module")
def script_env(tmp_path_factory):
    """A migrated SQLite database in a temporary FOLIO_VAR, used through `.venv/bin/folio`."""
    var = tmp_path_factory.mktemp("folio-var")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        FOLIO_VAR=str(var),
        FOLIO_DATABASE_URL=f"sqlite:///{var / 'folio.sqlite3'}",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("FOLIO_SECRET_KEY", None)  # the script makes and keeps its own under FOLIO_VAR
    done = folio(env, "migrate", "--verbosity", "0")
    assert done.returncode == 0, done.stderr
    return env


def folio(env, *args, input=None):
    return run([str(FOLIO), *args], env, input=input)


def run(command: list[str], env, *, input=None):
    return subprocess.run(
        command,
        cwd=REPO,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line_error(result, text):
    """A non-zero exit whose last stderr line says what went wrong, and no traceback.
    (Argument mistakes get argparse's usage lines above that one.)"""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert text in lines[-1], result.stderr
    if not lines[0].startswith("usage:"):
        assert len(lines) == 1, result.stderr


def test_migrate_creates_the_shared_counts_table(script_env):
    """The limits on password guessing count in a cache table (every web process sees it);
    `folio migrate` makes it."""
    database = script_env["FOLIO_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert "folio_limits_cache" in tables


def test_script_creates_a_user_from_stdin(script_env):
    args = ("user", "create", "ann", "--role", "viewer", "--password-stdin")
    result = folio(script_env, *args, input="a-long-enough-pass-9\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "created ann (viewer)"
    assert (Path(script_env["FOLIO_VAR"]) / "secret_key").exists()
    listed = folio(script_env, "user", "list")
    assert "ann" in listed.stdout and "viewer" in listed.stdout


CREATE_BOB = ("user", "create", "bob", "--password-stdin")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        ((*CREATE_BOB, "--role", "overlord"), "x\n", "invalid choice"),
        ((*CREATE_BOB, "--role", "viewer"), "short\n", "password rejected"),
        (("user", "create", "bob", "--role", "viewer"), "", "use --password-stdin"),
        (("user", "set-roles", "ghost", "--role", "viewer"), None, "no user named 'ghost'"),
        (("token", "revoke", "0"), None, "token ids are positive numbers"),
        (("jobs", "show", "not-a-job"), None, "is not a job id"),
    ],
)
def test_script_mistakes_are_one_line_without_traceback(script_env, args, stdin, message):
    assert_one_line_error(folio(script_env, *args, input=stdin), message)


def test_script_unknown_command(script_env):
    result = folio(script_env, "no-such-command")
    assert result.returncode != 0
    assert "Unknown command" in result.stderr and "Traceback" not in result.stderr


def test_script_maps_dashes_to_underscores(script_env):
    result = folio(script_env, "seed-demo", "--help")
    assert result.returncode == 0, result.stderr
    assert "demo catalog" in result.stdout


def test_script_configuration_error_is_one_line(script_env):
    env = {**script_env, "FOLIO_DATABASE_URL": "mysql://u@h/db"}
    result = folio(env, "user", "list")
    assert result.returncode == 2
    assert_one_line_error(result, "folio: configuration error: FOLIO_DATABASE_URL must be")


def test_commands_start_without_loading_the_web_site(script_env):
    """A command runs the system checks but the URL ones, which would import every page and
    the whole REST API (half of a command's start) for nothing it serves."""
    code = (
        "import sys; from folio.cli import main; main(['folio', 'user', 'list']); "
        "print(sorted(m for m in sys.modules if m in ('folio.api', 'folio.urls')))"
    )
    result = run([sys.executable, "-c", code], script_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    # `folio check` still checks them: a URL mistake is found there.
    checked = folio(script_env, "check", "--tag", "urls")
    assert checked.returncode == 0 and "no issues" in checked.stdout, checked.stderr
