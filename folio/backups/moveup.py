"""`folio move-up`: copy an embedded install (SQLite and a media folder) to PostgreSQL and/or
S3-compatible object storage, without loss, and prove it with row counts and checksums.

The database is copied model by model through Django's fields: values are read with the
source's conversions (SQLite's 0/1 booleans, text dates, JSON text) and written with the
target's, so every type arrives as PostgreSQL's own. Primary keys are kept, so every
reference between rows stays right; PostgreSQL checks Django's foreign keys at commit
(they are DEFERRABLE INITIALLY DEFERRED) and the whole copy is one transaction: the target
ends up with all of it or none. The search index's text (an FTS5 table on SQLite, a tsvector
column on PostgreSQL) is carried over too, so search works at once.

Stop the server first: what is written after a table was copied is not moved.
"""

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterable

from django.apps import apps
from django.core.management.color import no_style
from django.db import connections
from django.db.utils import load_backend

from folio.backups import database as db
from folio.backups.locations import CHUNK, split_s3
from folio.errors import Conflict, FolioError, InvalidInput
from folio.words import counted

TARGET = "move_up_target"
BATCH = 2000
# Tables that are not a model's and need not move: the rate-limit cache (counters that
# expire), the SQLite-only unlock row of the audit log, the structure generation (the
# target's triggers set it as the rows arrive), Django's own migration record (the target's
# migrate writes it), and the SQLite FTS5 index (moved as text, see _copy_search).
NOT_MOVED = {
    "folio_limits_cache": "a cache of rate-limit counters, rebuilt as requests come",
    "folio_audit_maintenance": "SQLite's unlock row for `folio flush`, empty between runs",
    "folio_structure_generation": "a marker its triggers change with each structure write",
    "django_migrations": "written by the target's own migrations",
}


class MoveError(FolioError):
    status = 500


def _no_progress(items: Iterable, **kwargs):
    return items


def _quiet(message: str) -> None:
    pass


def _connect_target(url: str):
    """A database connection named TARGET for `url` (postgresql://…)."""
    from django.conf import settings

    from folio.settings import _database

    if not url.startswith(("postgresql://", "postgres://")):
        raise InvalidInput(f"--to-database must be a postgresql://… URL, not {url.split(':')[0]}")
    try:
        config = _database(url)
    except Exception as exc:
        raise InvalidInput(f"--to-database: {exc}") from None
    config["CONN_MAX_AGE"] = 0
    configured = connections.configure_settings(
        {"default": settings.DATABASES["default"], TARGET: config}
    )[TARGET]
    # Registered for this thread only, not in DATABASES: the ORM's .using(TARGET) finds it,
    # and nothing else (close_all, tests' checks) treats it as one of the installation's
    # own databases.
    connection = load_backend(configured["ENGINE"]).DatabaseWrapper(configured, TARGET)
    connections[TARGET] = connection
    try:
        connection.ensure_connection()
    except Exception as exc:
        raise MoveError(f"cannot connect to the target database: {exc}") from None
    return connection


def _migrate(url: str) -> None:
    """Run Folio's migrations on the target in a `folio migrate` of its own, with the target
    as its default database: data migrations and post-migrate handlers write through the
    default database, and in this process that is the source, which must not change."""
    env = {**os.environ, "FOLIO_DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, "-m", "folio", "migrate", "--no-input", "--verbosity=0"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise MoveError(f"migrating the target database failed: {' '.join(detail)}")


def _models() -> list:
    """Concrete models in an order where a model comes after those it refers to (cycles are
    fine: the foreign keys are checked at commit)."""
    models = [
        m
        for m in apps.get_models(include_auto_created=True)
        if m._meta.managed and not m._meta.proxy
    ]
    ordered, seen = [], set()

    def visit(model, path=()):
        if model in seen or model in path:
            return
        for field in model._meta.concrete_fields:
            target = getattr(field, "related_model", None)
            if field.is_relation and target is not None and target is not model:
                visit(target._meta.concrete_model, (*path, model))
        seen.add(model)
        ordered.append(model)

    for model in sorted(models, key=lambda m: m._meta.label):
        visit(model)
    return [m for m in ordered if m in models]


def _columns(model) -> list:
    return [f for f in model._meta.concrete_fields if f.column]


def _copy_table(model, source, target, *, progress) -> int:
    fields = _columns(model)
    table = model._meta.db_table
    sql = (
        f"INSERT INTO {db.quote(table)} ({', '.join(db.quote(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    rows = (
        model._base_manager.using(source.alias)
        .values_list(*[f.attname for f in fields])
        .order_by()
        .iterator(chunk_size=BATCH)
    )
    copied, batch = 0, []
    with target.cursor() as cursor:
        for row in rows:
            # Values as the target stores them, but not through Model.save(): no signals, and
            # no auto_now field is set to today.
            batch.append(
                [f.get_db_prep_save(v, connection=target) for f, v in zip(fields, row, strict=True)]
            )
            if len(batch) >= BATCH:
                cursor.executemany(sql, batch)
                copied += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            copied += len(batch)
    return copied


def _copy_search(source, target) -> int:
    """The search index's text: FTS5 rows (rowid = search_entry.id) → tsvector documents."""
    from folio.search.backends import PostgreSQLBackend, add_lexemes

    with source.cursor() as cursor:
        cursor.execute("SELECT rowid, identifiers, title, body FROM search_fts")
        rows = cursor.fetchall()
    with target.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            cursor.executemany(
                f"UPDATE search_entry SET document = {PostgreSQLBackend.DOCUMENT} WHERE id = %s",  # noqa: S608
                [(i or "", t or "", b or "", rowid) for rowid, i, t, b in chunk],
            )
        add_lexemes(cursor)
        cursor.execute("SELECT COUNT(*) FROM search_entry WHERE document <> ''::tsvector")
        return cursor.fetchone()[0]


def move_database(
    url: str,
    *,
    force: bool = False,
    progress: Callable = _no_progress,
    say: Callable[[str], None] = _quiet,
) -> dict:
    source = connections["default"]
    if source.vendor != "sqlite":
        raise InvalidInput(
            f"this installation's database is {source.vendor} already: move-up copies an "
            "embedded (SQLite) install; use `folio backup`/`folio restore` between servers"
        )
    target = _connect_target(url)
    try:
        say("Creating the tables in the target database…")
        _migrate(url)
        present = db.holds_data(target)
        if present and not force:
            raise Conflict(
                "the target database is not empty ("
                + ", ".join(f"{n} rows in {t}" for t, n in present.items())
                + "): give an empty database, or --force to replace what is in it"
            )
        models = _models()
        with source.cursor() as cursor:
            source_tables = set(db.table_names(cursor, "sqlite"))
        tables = [m._meta.db_table for m in models if m._meta.db_table in source_tables]
        copied: dict[str, int] = {}
        from django.db import transaction

        with transaction.atomic(using=TARGET):
            with target.cursor() as cursor:
                # Rows the target's migrations seeded (content types, permissions, presets)
                # give way to the source's own, with their own keys. The audit log refuses a
                # TRUNCATE except in this one transaction-local maintenance setting.
                cursor.execute("SELECT set_config('folio.audit_maintenance', 'on', true)")
                cursor.execute(
                    f"TRUNCATE {', '.join(db.quote(t) for t in tables)} RESTART IDENTITY CASCADE"
                )
                cursor.execute("SELECT set_config('folio.audit_maintenance', 'off', true)")
            for model in progress(
                [m for m in models if m._meta.db_table in source_tables], description="Tables"
            ):
                copied[model._meta.db_table] = _copy_table(model, source, target, progress=progress)
            search_documents = _copy_search(source, target) if "search_fts" in source_tables else 0
            with target.cursor() as cursor:
                for statement in target.ops.sequence_reset_sql(no_style(), models):
                    cursor.execute(statement)

        # Verify: every table's rows, counted on both sides after the commit.
        with source.cursor() as s, target.cursor() as t:
            source_counts = {table: _count(s, table) for table in tables}
            target_counts = {table: _count(t, table) for table in tables}
        differ = {
            table: (source_counts[table], target_counts[table])
            for table in tables
            if source_counts[table] != target_counts[table]
        }
        if differ:
            raise MoveError(
                "row counts differ after the copy: "
                + ", ".join(f"{t} ({a} → {b})" for t, (a, b) in differ.items()),
                details={"counts": differ},
            )
        not_copied = {
            t: NOT_MOVED.get(t, "search index text, moved into search_entry.document")
            for t in sorted(source_tables - set(tables))
            if t in NOT_MOVED or t.startswith("search_fts")
        }
        unknown = sorted(source_tables - set(tables) - set(not_copied))
        if unknown:
            raise MoveError(
                f"tables no model describes would be left behind: {', '.join(unknown)}",
                details={"tables": unknown},
            )
        return {
            "tables": source_counts,
            "rows": sum(source_counts.values()),
            "search_documents": search_documents,
            "not_copied": not_copied,
        }
    finally:
        target.close()


def _count(cursor, table: str) -> int:
    cursor.execute(f"SELECT COUNT(*) FROM {db.quote(table)}")  # noqa: S608 - a table name
    return cursor.fetchone()[0]


def media_storage(url: str):
    """A Django storage for s3://bucket/prefix (with the FOLIO_S3_* settings) or a folder."""
    from django.conf import settings
    from django.core.files.storage import FileSystemStorage

    if not url.startswith("s3://"):
        return FileSystemStorage(location=url)
    from storages.backends.s3 import S3Storage

    bucket, prefix = split_s3(url, "--to-media")
    media = settings.STORAGES.get("default", {}).get("OPTIONS", {})
    return S3Storage(
        bucket_name=bucket,
        location=prefix,
        endpoint_url=settings.S3_ENDPOINT_URL or media.get("endpoint_url"),
        region_name=settings.S3_REGION or media.get("region_name"),
        access_key=settings.S3_ACCESS_KEY or media.get("access_key"),
        secret_key=settings.S3_SECRET_KEY or media.get("secret_key"),
        default_acl=None,
        querystring_auth=True,
        file_overwrite=True,
    )


def _sha256(f) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := f.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _has_blobs(storage) -> bool:
    try:
        dirs, files = storage.listdir("blobs")
    except FileNotFoundError:
        return False
    return bool(dirs or files)


def move_media(
    url: str,
    *,
    force: bool = False,
    progress: Callable = _no_progress,
    say: Callable[[str], None] = _quiet,
) -> dict:
    """Copy every stored file to `url`, then read each back and check its SHA-256."""
    from django.core.files import File
    from django.core.files.storage import default_storage

    target = media_storage(url)
    if _has_blobs(target) and not force:
        raise Conflict(
            f"{url} holds stored files already: give an empty location, or --force to copy "
            "into it (files already there with the right checksum are kept)"
        )
    with connections["default"].cursor() as cursor:
        files = db.stored_files(cursor)
    copied = kept = 0
    damaged = []
    for name, size, sha in progress(files, description="Copying files"):
        if target.exists(name):
            with target.open(name, "rb") as f:
                if _sha256(f) == (sha, size):
                    kept += 1
                    continue
            target.delete(name)
        with default_storage.open(name, "rb") as src:
            saved = target.save(name, File(src, name=name.rsplit("/", 1)[-1]))
        if saved != name:
            raise MoveError(f"the target storage saved {name} as {saved}")
        copied += 1
    for name, size, sha in progress(files, description="Checking files"):
        with target.open(name, "rb") as f:
            if _sha256(f) != (sha, size):
                damaged.append(name)
    if damaged:
        raise MoveError(
            f"{counted(len(damaged), 'file differs', 'files differ')} after the copy: "
            f"{damaged[:3]}",
            details={"files": damaged},
        )
    return {
        "files": len(files),
        "bytes": sum(size for _, size, _ in files),
        "copied": copied,
        "already_there": kept,
    }


def move_up(
    *,
    to_database: str | None = None,
    to_media: str | None = None,
    force: bool = False,
    progress: Callable = _no_progress,
    say: Callable[[str], None] = _quiet,
) -> dict:
    if not to_database and not to_media:
        raise InvalidInput("give --to-database postgresql://…, --to-media s3://…, or both")
    report = {}
    # Files first: a database that has moved must never refer to files that have not.
    if to_media:
        report["media"] = move_media(to_media, force=force, progress=progress, say=say)
    if to_database:
        report["database"] = move_database(to_database, force=force, progress=progress, say=say)
    return report
