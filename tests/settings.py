"""Test settings: Folio's own settings, with a throw-away var directory.

FOLIO_DATABASE_URL picks the backend (scripts/run-tests sets it for the PostgreSQL pass).
"""

import os
import tempfile

os.environ.setdefault("FOLIO_VAR", tempfile.mkdtemp(prefix="folio-test-"))
os.environ.setdefault("FOLIO_SECRET_KEY", "test-secret-key-not-for-production-use-0123456789")

from folio.settings import *  # noqa: F403

STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
API_RATE_LIMIT = "100000/m"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
