"""What backups, restores and moves need to know about a database: its tables and their row
counts, the migrations it has, whether it holds any Folio data, and the PostgreSQL tools."""

import os
import shutil
import subprocess
from pathlib import Path

from django.conf import settings
from django.db.migrations.loader import MigrationLoader

from folio.errors import FolioError, InvalidInput

# Tables that say whether an installation holds anything worth keeping. A freshly migrated
# database has rows elsewhere (content types, permissions, seeded presets), never in these.
DATA_TABLES = ("accounts_user", "catalog_product", "assets_asset", "assets_blob")


class ToolMissing(FolioError):
    status = 500


def table_names(cursor, vendor: str) -> list[str]:
    """Every ordinary table of the database (the search index's FTS tables included)."""
    if vendor == "sqlite":
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    else:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "AND table_schema = current_schema() ORDER BY table_name"
        )
    return [name for (name,) in cursor.fetchall()]


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_counts(cursor, vendor: str) -> dict[str, int]:
    counts = {}
    for table in table_names(cursor, vendor):
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 - a table name
        counts[table] = cursor.fetchone()[0]
    return counts


def applied_migrations(cursor) -> dict[str, list[str]]:
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, id")
    applied: dict[str, list[str]] = {}
    for app, name in cursor.fetchall():
        applied.setdefault(app, []).append(name)
    return applied


def stored_files(cursor) -> list[tuple[str, int, str]]:
    """(storage path, size, sha256) of every stored file: originals, previews and renditions
    all live in the media storage as content-addressed blobs, each with an assets_blob row."""
    cursor.execute("SELECT storage_name, size, sha256 FROM assets_blob ORDER BY sha256")
    return [(name, int(size), sha) for name, size, sha in cursor.fetchall()]


def unknown_migrations(applied: dict[str, list[str]]) -> list[str]:
    """Migrations a database has that this version of Folio does not know (a newer schema)."""
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    return [
        f"{app}.{name}"
        for app, names in applied.items()
        for name in names
        if (app, name) not in known
    ]


def holds_data(connection) -> dict[str, int]:
    """{table: rows} of the DATA_TABLES that have rows (empty: nothing to lose)."""
    with connection.cursor() as cursor:
        present = set(connection.introspection.table_names(cursor))
        found = {}
        for table in DATA_TABLES:
            if table in present:
                cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 - a table name
                n = cursor.fetchone()[0]
                if n:
                    found[table] = n
    return found


def pg_tool(name: str) -> str:
    """The path of pg_dump/pg_restore: FOLIO_PG_BIN_DIR, else the PATH, else /usr/bin."""
    folder = settings.PG_BIN_DIR
    candidates = [Path(folder) / name] if folder else []
    found = shutil.which(name)
    candidates += [Path(found)] if found else []
    candidates.append(Path("/usr/bin") / name)
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    where = f"in FOLIO_PG_BIN_DIR ({folder})" if folder else "on the PATH or in /usr/bin"
    raise ToolMissing(
        f"{name} is missing: PostgreSQL databases are backed up and restored with PostgreSQL's "
        f"own {name}, which was not found {where}. Install the PostgreSQL client tools (the "
        "same major version as the server, e.g. apt install postgresql-client) or set "
        "FOLIO_PG_BIN_DIR."
    )


def pg_args(settings_dict: dict) -> tuple[list[str], dict]:
    """Connection arguments and environment for pg_dump/pg_restore (password in the
    environment, never on the command line where `ps` shows it)."""
    from psycopg.conninfo import make_conninfo

    options = settings_dict.get("OPTIONS") or {}
    params = {
        "dbname": settings_dict["NAME"],
        "user": settings_dict.get("USER") or None,
        "host": settings_dict.get("HOST") or None,
        "port": str(settings_dict["PORT"]) if settings_dict.get("PORT") else None,
        **{
            k: v
            for k, v in options.items()
            if k in {"sslmode", "sslrootcert", "sslcert", "sslkey", "application_name"}
        },
    }
    env = dict(os.environ)
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = settings_dict["PASSWORD"]
    conninfo = make_conninfo(**{k: v for k, v in params.items() if v is not None})
    return [f"--dbname={conninfo}"], env


def run_pg_tool(args: list[str], env: dict, what: str) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise FolioError(
            f"{what} failed ({Path(args[0]).name} exited {result.returncode}): "
            + ("; ".join(detail[-5:]) or "no message")
        )


def check_vendor(vendor: str, expected: str, what: str) -> None:
    if vendor != expected:
        raise InvalidInput(f"{what}: {vendor} and {expected} differ")
