"""Test settings: Folio's own settings, with a throw-away var directory.

FOLIO_DATABASE_URL picks the backend (scripts/run-tests sets it for the PostgreSQL pass).
"""

import atexit
import os
import shutil
import tempfile


def _scratch_dir(prefix: str) -> str:
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


# pytest-xdist's workers inherit the controller's environment; each gets a var directory
# (media, static files, spools) of its own so that no test sees another worker's files.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["FOLIO_VAR"] = _scratch_dir(f"folio-test-{os.environ['PYTEST_XDIST_WORKER']}-")
os.environ.setdefault("FOLIO_VAR", _scratch_dir("folio-test-"))
os.environ.setdefault("FOLIO_SECRET_KEY", "test-secret-key-not-for-production-use-0123456789")

from folio.settings import *  # noqa: E402,F403

STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
API_RATE_LIMIT = "100000/m"
# The suite signs in wrongly from 127.0.0.1 on purpose many times; tests of the limits on
# guessing set their own (tests/accounts/test_login_limits.py).
LOGIN_RATE_LIMIT = BAD_TOKEN_RATE_LIMIT = (100_000, 60)
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405

# Tests that start real processes (the job worker, `folio` commands) must see the test
# database, so on SQLite it is a file rather than Django's default in-memory database.
# It lives in its own temporary directory so a developer's FOLIO_VAR is never touched.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(_scratch_dir("folio-testdb-"), "test.sqlite3")
    }
