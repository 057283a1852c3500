"""Liveness and readiness, for load balancers and orchestrators.

Liveness says the process answers (no dependencies, so a slow database never gets a healthy
web process killed). Readiness says this process can do its work now: the database answers and
is migrated, the media storage is reachable, and the job queue's Redis answers when one is
configured. A process that is not ready gets no traffic but is not restarted.
"""

import time

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from folio.words import counted


def _database() -> str | None:
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        return f"{counted(len(pending), 'migration')} not applied (run `folio migrate`)"
    return None


def _storage() -> str | None:
    # A listing of the top folder is one cheap call on S3 and on disk; it proves the
    # credentials and the bucket (or folder) without writing anything.
    try:
        default_storage.listdir("")
    except FileNotFoundError:
        # An empty local media folder that does not exist yet is fine: the first upload
        # creates it.
        if settings.STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):
            return None
        raise
    return None


def _queue() -> str | None:
    url = getattr(settings, "REDIS_URL", None)
    if not url:
        return None
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    return None


CHECKS = {"database": _database, "storage": _storage, "queue": _queue}


def readiness() -> tuple[bool, dict]:
    """(ready, {check: {"ok", "ms", "problem"}}) — problems name the failing dependency
    without credentials or internals."""
    report = {}
    ready = True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            problem = check()
        except Exception as exc:  # any failure means not ready; say which kind
            problem = f"{type(exc).__name__}: unreachable or refused"
        report[name] = {
            "ok": problem is None,
            "ms": round((time.perf_counter() - started) * 1000, 1),
            **({"problem": problem} if problem else {}),
        }
        ready = ready and problem is None
    return ready, report
