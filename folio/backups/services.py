"""`folio backup` and `folio restore`: an online, consistent snapshot of the database and a
copy of every stored file, checked back file by file and table by table on restore.

Consistency: the database snapshot is one moment (SQLite's online backup API, which copies
the database while the server keeps writing; PostgreSQL's pg_dump inside an exported
REPEATABLE READ snapshot). The list of files to copy, and the row counts, are read from that
same moment, so the backup holds exactly the files its database refers to. Stored files are
content-addressed and never change, so copying them after the snapshot is safe.
"""

import json
import secrets
import sqlite3
import tempfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connections

from folio import __version__
from folio.backups import database as db
from folio.backups.locations import (
    MANIFEST,
    backup_at,
    copy_hashing,
    file_sha256,
    location,
)
from folio.errors import Conflict, FolioError, InvalidInput
from folio.words import counted

FORMAT = 1
FILES = "files.jsonl"
PUBLICATIONS = "publications"  # the media storage's folder of publications (S3 media)
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}


class BackupError(FolioError):
    status = 500


def _no_progress(items: Iterable, **kwargs):
    return items


def _quiet(message: str) -> None:
    pass


def _new_id(place) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    existing = set(place.backups())
    return stamp if stamp not in existing else f"{stamp}-{secrets.token_hex(2)}"


# --- Backup -------------------------------------------------------------------------------


def _snapshot_sqlite(connection, out: Path) -> dict:
    """Copy the live database with SQLite's online backup API, then read the counts and the
    file list from the copy (the same moment, by construction)."""
    source = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
    try:
        target = sqlite3.connect(out)
        try:
            # pages=-1: one step under one read transaction. Copied page by page instead, a
            # write by the running server between steps would restart the copy.
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            cursor = target.cursor()
            return {
                "counts": db.table_counts(cursor, "sqlite"),
                "migrations": db.applied_migrations(cursor),
                "files": db.stored_files(cursor),
            }
        finally:
            target.close()
    finally:
        source.close()


def _snapshot_postgresql(connection, out: Path) -> dict:
    """pg_dump --format=custom of an exported snapshot, and the counts and file list read in
    the transaction that holds that snapshot."""
    pg_dump = db.pg_tool("pg_dump")
    raw = connection.get_new_connection(connection.get_connection_params())
    try:
        cursor = raw.cursor()
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        args, env = db.pg_args(connection.settings_dict)
        db.run_pg_tool(
            [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={out}", *args],
            env,
            "pg_dump",
        )
        found = {
            "counts": db.table_counts(cursor, "postgresql"),
            "migrations": db.applied_migrations(cursor),
            "files": db.stored_files(cursor),
        }
        raw.rollback()
        return found
    finally:
        raw.close()


def _previous_files(place) -> tuple[str | None, dict[str, str]]:
    """The newest complete backup at this location and {sha256: its path} of its files."""
    for previous in reversed(place.backups()):
        if not place.exists(previous, FILES):
            continue
        with place.open(previous, FILES) as f:
            lines = [json.loads(line) for line in f.read().decode().splitlines() if line]
        return previous, {line["sha256"]: line["path"] for line in lines}
    return None, {}


def backup(
    dest: str,
    *,
    incremental: bool = True,
    progress: Callable = _no_progress,
    say: Callable[[str], None] = _quiet,
) -> dict:
    """Back up the database and every stored file to a new backup folder under `dest` (a
    folder or s3://bucket/prefix). Returns the manifest, with "location" added."""
    connection = connections["default"]
    vendor = connection.vendor
    if vendor not in DATABASE_FILES:
        raise InvalidInput(f"cannot back up a {vendor} database")
    if vendor == "postgresql":
        db.pg_tool("pg_dump")  # missing tools are said before anything is written
    place = location(dest)
    backup_id = _new_id(place)
    place.start(backup_id)
    try:
        database_file = DATABASE_FILES[vendor]
        scratch = place.scratch_path(backup_id, database_file)
        say(f"Snapshot of the {vendor} database…")
        snapshot = (_snapshot_sqlite if vendor == "sqlite" else _snapshot_postgresql)(
            connection, scratch
        )
        database = {
            "vendor": vendor,
            "file": database_file,
            "size": scratch.stat().st_size,
            "sha256": file_sha256(scratch),
        }
        place.keep_scratch(backup_id, database_file, scratch)

        previous, earlier = _previous_files(place) if incremental else (None, {})
        lines, copied, reused, total_bytes = [], 0, 0, 0
        for name, size, sha in progress(snapshot["files"], description="Stored files"):
            rel = f"media/{name}"
            if sha in earlier and place.reuse(backup_id, rel, previous, f"media/{earlier[sha]}"):
                reused += 1
            else:
                try:
                    with default_storage.open(name, "rb") as src:
                        got_sha, got_size = place.put(backup_id, rel, src)
                except FileNotFoundError:
                    raise BackupError(
                        f"{name} is in the database but missing from the media storage; "
                        "the backup was not made"
                    ) from None
                if (got_sha, got_size) != (sha, size):
                    raise BackupError(
                        f"{name} in the media storage does not match its checksum (sha256 "
                        f"{got_sha}, {got_size} bytes; the database says {sha}, {size} bytes): "
                        "the stored file is damaged; the backup was not made"
                    )
                copied += 1
            total_bytes += size
            lines.append(json.dumps({"path": name, "size": size, "sha256": sha}))

        # Publications the media storage holds (with S3 media, feeds without a destination
        # of their own publish into the bucket's publications/): not in the database, so
        # read as they are now, and hashed as they are copied.
        published = sorted(_walk(default_storage, PUBLICATIONS))
        for name in progress(published, description="Publications"):
            with default_storage.open(name, "rb") as src:
                sha, size = place.put(backup_id, f"media/{name}", src)
            copied += 1
            total_bytes += size
            lines.append(json.dumps({"path": name, "size": size, "sha256": sha}))

        files_text = ("\n".join(lines) + "\n" if lines else "").encode()
        place.put(backup_id, FILES, _bytes(files_text))
        manifest = {
            "format": FORMAT,
            "folio_version": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": database,
            "migrations": snapshot["migrations"],
            "counts": snapshot["counts"],
            "files": {
                "list": FILES,
                "count": len(lines),
                "publications": len(published),
                "bytes": total_bytes,
                "copied": copied,
                "reused": reused,
                "reused_from": previous if reused else None,
            },
        }
        # Written last: a backup with a manifest is a complete one.
        place.put(backup_id, MANIFEST, _bytes(json.dumps(manifest, indent=2).encode()))
        place.finish(backup_id)
    except BaseException:
        place.abort(backup_id)
        raise
    return {**manifest, "location": place.url(backup_id)}


def _walk(storage, folder: str):
    """Every file name under `folder` of a Django storage (none if it does not exist)."""
    try:
        dirs, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{folder}/{name}"
    for name in dirs:
        yield from _walk(storage, f"{folder}/{name}")


def _bytes(data: bytes):
    import io

    return io.BytesIO(data)


# --- Restore ------------------------------------------------------------------------------


def read_manifest(place, backup_id: str) -> dict:
    try:
        with place.open(backup_id, MANIFEST) as f:
            manifest = json.loads(f.read())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{place.url(backup_id)}/{MANIFEST} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else "?"
        raise InvalidInput(
            f"{place.url(backup_id)} is not a Folio backup of format {FORMAT} "
            f"(its manifest says format {found})"
        )
    return manifest


def _restore_sqlite(connection, snapshot: Path) -> None:
    # Through the backup API rather than a file copy: it replaces the live database's pages
    # under SQLite's own locks, WAL included, so no stale -wal file can outlive the restore.
    connections.close_all()
    source = sqlite3.connect(snapshot)
    try:
        target = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def _restore_postgresql(connection, snapshot: Path) -> None:
    pg_restore = db.pg_tool("pg_restore")
    connections.close_all()
    args, env = db.pg_args(connection.settings_dict)
    db.run_pg_tool(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",  # all or nothing
            "--exit-on-error",
            *args,
            str(snapshot),
        ],
        env,
        "pg_restore",
    )


def _restore_file(place, backup_id: str, name: str, sha: str, scratch: Path) -> bool:
    """Put one file back into the media storage unless it is there already with the same
    bytes. The backup's copy is checked before it is stored: it is spooled into `scratch`
    and hashed on the way, so a damaged copy is refused and never stored. True if copied."""
    from django.core.files import File

    if default_storage.exists(name):
        with default_storage.open(name, "rb") as f:
            if copy_hashing(f, _Discard())[0] == sha:
                return False
        default_storage.delete(name)  # damaged: replaced below
    spooled = scratch / "file"
    with place.open(backup_id, f"media/{name}") as src, open(spooled, "wb") as out:
        found, _ = copy_hashing(src, out)
    try:
        if found != sha:
            raise BackupError(
                f"{name} in the backup does not match its checksum (sha256 {found}, expected "
                f"{sha}): the backup is damaged; the database was not restored"
            )
        with open(spooled, "rb") as f:
            saved = default_storage.save(name, File(f, name=Path(name).name))
    finally:
        spooled.unlink(missing_ok=True)
    if saved != name:
        raise BackupError(f"the media storage saved {name} as {saved}")
    return True


class _Discard:
    def write(self, data):
        pass


def restore(
    src: str,
    *,
    force: bool = False,
    progress: Callable = _no_progress,
    say: Callable[[str], None] = _quiet,
) -> dict:
    """Restore the backup at `src` into this installation (same database vendor), then check
    every file's checksum and every table's row count against the backup's manifest."""
    place, backup_id = backup_at(src)
    manifest = read_manifest(place, backup_id)
    connection = connections["default"]
    vendor = manifest["database"]["vendor"]
    if vendor != connection.vendor:
        raise InvalidInput(
            f"the backup is of a {vendor} database and this installation uses "
            f"{connection.vendor}: restore into a {vendor} installation (to go from SQLite to "
            "PostgreSQL, restore into SQLite and then use `folio move-up`)"
        )
    newer = db.unknown_migrations(manifest["migrations"])
    if newer:
        raise InvalidInput(
            f"the backup is from a newer Folio (version {manifest.get('folio_version')}, this "
            f"is {__version__}): its database has {counted(len(newer), 'migration')} this "
            f"version does not know ({', '.join(newer[:5])}{'…' if len(newer) > 5 else ''}). "
            "Upgrade Folio first, then restore.",
            details={"unknown_migrations": newer},
        )
    if vendor == "postgresql":
        db.pg_tool("pg_restore")
    present = db.holds_data(connection)
    if present and not force:
        raise Conflict(
            "this installation is not empty ("
            + ", ".join(f"{n} rows in {t}" for t, n in present.items())
            + "): restore into an empty one, or give --force to replace everything in it"
        )

    with place.open(backup_id, FILES) as f:
        lines = [json.loads(line) for line in f.read().decode().splitlines() if line]
    if len(lines) != manifest["files"]["count"]:
        raise BackupError(
            f"{FILES} lists {len(lines)} files but the manifest says {manifest['files']['count']}"
        )

    # Files first: a database restored before its files would refer to missing ones.
    copied = 0
    with tempfile.TemporaryDirectory(prefix="folio-restore-", dir=_scratch_dir()) as tmp:
        for line in progress(lines, description="Restoring files"):
            copied += _restore_file(place, backup_id, line["path"], line["sha256"], Path(tmp))

    say("Restoring the database…")
    with tempfile.TemporaryDirectory(prefix="folio-restore-", dir=_scratch_dir()) as tmp:
        snapshot = place.local_copy(backup_id, manifest["database"]["file"], Path(tmp))
        if file_sha256(snapshot) != manifest["database"]["sha256"]:
            raise BackupError(
                f"{manifest['database']['file']} does not match the checksum in the manifest: "
                "the backup is damaged; nothing was restored into the database"
            )
        (_restore_sqlite if vendor == "sqlite" else _restore_postgresql)(connection, snapshot)

    report = verify(manifest, lines, progress=progress)
    return {**report, "copied": copied, "backup": place.url(backup_id), "manifest": manifest}


def _scratch_dir() -> Path:
    path = Path(settings.UPLOAD_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def verify(manifest: dict, lines: list[dict], *, progress: Callable = _no_progress) -> dict:
    """Compare this installation with a backup: every table's row count, and every file's
    checksum read back from the media storage. Raises BackupError listing what differs."""
    connection = connections["default"]
    with connection.cursor() as cursor:
        counts = db.table_counts(cursor, connection.vendor)
    wrong_counts = {
        table: {"backup": n, "restored": counts.get(table)}
        for table, n in manifest["counts"].items()
        if counts.get(table) != n
    }
    wrong_files = []
    for line in progress(lines, description="Checking files"):
        try:
            with default_storage.open(line["path"], "rb") as f:
                sha, size = copy_hashing(f, _Discard())
        except FileNotFoundError:
            sha, size = None, None
        if (sha, size) != (line["sha256"], line["size"]):
            wrong_files.append(line["path"])
    if wrong_counts or wrong_files:
        parts = []
        if wrong_counts:
            parts.append(
                "row counts differ: "
                + ", ".join(
                    f"{t} ({d['restored']} instead of {d['backup']})"
                    for t, d in list(wrong_counts.items())[:5]
                )
            )
        if wrong_files:
            parts.append(
                f"{counted(len(wrong_files), 'file')} missing or damaged: {wrong_files[:3]}"
            )
        raise BackupError(
            "the restore does not match the backup: " + "; ".join(parts),
            details={"counts": wrong_counts, "files": wrong_files},
        )
    return {"tables": len(manifest["counts"]), "rows": sum(counts.values()), "files": len(lines)}
