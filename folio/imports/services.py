"""Imports and exports as runs: who started what, the background job that does it, the
counts and problems it leaves, the audit entry. The API starts runs as jobs; the CLI runs them
in its own process (with a progress bar) but records them the same way, so every run — and
its problem report — can be read through the API.
"""

import logging
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import connection, transaction
from django.dispatch import receiver
from django.utils import timezone

from folio.accounts import audit
from folio.accounts.services import require
from folio.assets.services import safe_filename
from folio.errors import Conflict, FolioError, InvalidInput, NotFound, TooLarge
from folio.imports import exporter, transforms
from folio.imports.columns import FIELDS, TARGETS
from folio.imports.importer import Importer
from folio.imports.limits import limit
from folio.imports.models import ColumnMapping, ExportRun, ImportProblem, ImportRun, Run
from folio.imports.sources import KINDS, open_source
from folio.jobs.models import Job
from folio.jobs.services import (
    JobCancelled,
    JobContext,
    beat_in_background,
    job,
    job_died,
    start_job,
    this_process_as_worker,
)
from folio.versioning import save_versioned
from folio.words import counted

log = logging.getLogger("folio.imports")
MAPPING_OPTIONS = {
    "kind",
    "delimiter",
    "encoding",
    "decimal_comma",
    "family",
    "sheet",
}


def staging_dir() -> Path:
    path = Path(settings.VAR_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def exports_dir() -> Path:
    path = Path(settings.VAR_DIR) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- mappings ---------------------------------------------------------------------------------


def mapping_snapshot(m: ColumnMapping) -> dict:
    return {
        "name": m.name,
        "description": m.description,
        "options": m.options,
        "columns": m.columns,
        "version": m.version,
    }


def check_mapping(options, columns_) -> tuple[dict, list[dict]]:
    """Every problem of a mapping, each naming the column (by position and name) and why."""
    from folio.catalog import values as v
    from folio.linking.services import ROLE_RE

    problems: list[str] = []
    if not isinstance(options, dict):
        problems.append("options must be an object")
        options = {}
    for key in sorted(set(options) - MAPPING_OPTIONS):
        problems.append(f"options.{key}: not an option ({', '.join(sorted(MAPPING_OPTIONS))})")
    if "kind" in options and options["kind"] not in ("products", "product_models"):
        problems.append("options.kind: a mapping reads products or product_models")
    if "delimiter" in options and options["delimiter"] not in (";", ",", "\t", "|"):
        problems.append("options.delimiter: one of ; , tab |")
    if not isinstance(columns_, list):
        problems.append("columns must be a list of column rules")
        columns_ = []
    kind = options.get("kind", "products")
    structure = v.Structure.load()
    seen = set()
    for i, rule in enumerate(columns_):
        where = f"columns[{i}]"
        if (
            not isinstance(rule, dict)
            or not isinstance(rule.get("column"), str)
            or not rule["column"].strip()
        ):
            problems.append(f"{where}: each rule names its column: {{'column': 'Article no.', …}}")
            continue
        name = rule["column"]
        where = f"columns[{i}] ({name})"
        if name in seen:
            problems.append(f"{where}: the column is mapped twice")
        seen.add(name)
        targets = [k for k in ("field", "attribute", "media", "association", "ignore") if k in rule]
        if len(targets) != 1:
            problems.append(
                f"{where}: map the column to exactly one of field, attribute, media, "
                "association, or ignore it"
            )
            continue
        allowed = {"column", "transforms", targets[0]}
        target = targets[0]
        if target == "field":
            if rule["field"] not in FIELDS[kind]:
                problems.append(f"{where}: field is one of {', '.join(FIELDS[kind])}")
        elif target == "attribute":
            allowed |= {"locale", "channel", "scope", "currency", "part"}
            a = structure.attributes.get(rule["attribute"])
            if a is None:
                problems.append(f"{where}: no attribute {rule['attribute']!r}")
            else:
                locale = rule.get("locale")
                scope = rule.get("channel") or rule.get("scope")
                if a.localizable and not locale:
                    problems.append(f"{where}: {a.code} is localizable: give the locale")
                if not a.localizable and locale:
                    problems.append(f"{where}: {a.code} is not localizable")
                if locale and locale not in structure.locales:
                    problems.append(f"{where}: {locale!r} is not a locale")
                if a.scopable and not scope:
                    problems.append(f"{where}: {a.code} is scopable: give the channel")
                if not a.scopable and scope:
                    problems.append(f"{where}: {a.code} is not scopable")
                if scope and scope not in structure.channels:
                    problems.append(f"{where}: {scope!r} is not a channel")
                cur = rule.get("currency")
                if cur and (a.type != "price" or cur not in structure.currencies):
                    problems.append(
                        f"{where}: currency {cur!r} needs a price attribute and a "
                        "currency set up here"
                    )
                if rule.get("part") not in (None, "unit"):
                    problems.append(f"{where}: part is unit (a column of units) or left out")
                if rule.get("part") == "unit" and a.type != "measurement":
                    problems.append(f"{where}: only measurements have a unit column")
        elif target == "media":
            allowed |= {"locale"}
            if not isinstance(rule["media"], str) or not ROLE_RE.match(rule["media"]):
                problems.append(f"{where}: media is a role such as main or gallery")
        elif target == "association":
            allowed |= {"target", "part"}
            if rule.get("target", "products") not in TARGETS:
                problems.append(f"{where}: target is one of {', '.join(TARGETS)}")
        elif target == "ignore" and rule["ignore"] is not True:
            problems.append(f"{where}: ignore is true")
        for key in sorted(set(rule) - allowed):
            problems.append(f"{where}: {key!r} does not belong in a {target} rule")
        problems.extend(transforms.check(rule.get("transforms"), where))
    return options, [{"reason": p} for p in problems]


def _clean_mapping(name, description, options, columns_) -> dict:
    from folio.linking.services import ROLE_RE  # a slug, like roles

    if not isinstance(name, str) or not ROLE_RE.match(name.lower()) or name != name.lower():
        raise InvalidInput(
            "a mapping's name is a slug: lower-case letters, digits, - and _",
            details={"field": "name"},
        )
    options, problems = check_mapping(options or {}, columns_ or [])
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InvalidInput(f"mapping {name}: {problems[0]['reason']}{more}", details=problems)
    return {
        "description": (description or "")[:300],
        "options": options,
        "columns": columns_ or [],
    }


def list_mappings():
    return ColumnMapping.objects.all()


def get_mapping(name: str) -> ColumnMapping:
    m = ColumnMapping.objects.filter(name=name).first()
    if m is None:
        raise NotFound(f"no column mapping {name!r}", details={"name": name})
    return m


def get_mapping_by_id(mapping_id: int) -> ColumnMapping:
    """The web pages name a mapping by its id: a mapping may be called "new"."""
    m = ColumnMapping.objects.filter(pk=mapping_id).first()
    if m is None:
        raise NotFound(f"no column mapping {mapping_id}", details={"id": mapping_id})
    return m


@transaction.atomic
def create_mapping(
    name: str, *, description: str = "", options=None, columns=None, user=None
) -> ColumnMapping:
    clean = _clean_mapping(name, description, options, columns)
    if ColumnMapping.objects.filter(name=name).exists():
        raise Conflict(f"a column mapping {name!r} exists already", details={"name": name})
    m = ColumnMapping.objects.create(name=name, created_by=_user(user), **clean)
    audit.record("import_mapping.create", m, summary=f"mapping {name}", changes=mapping_snapshot(m))
    return m


@transaction.atomic
def update_mapping(name: str, *, expected_version: int | None = None, **changes) -> ColumnMapping:
    m = get_mapping(name)
    unknown = set(changes) - {"description", "options", "columns"}
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(sorted(unknown))} of a mapping")
    before = mapping_snapshot(m)
    clean = _clean_mapping(
        name,
        changes.get("description", m.description),
        changes.get("options", m.options),
        changes.get("columns", m.columns),
    )
    for k, value in clean.items():
        setattr(m, k, value)
    save_versioned(m, expected_version, list(clean), snapshot=mapping_snapshot)
    after = mapping_snapshot(m)
    audit.record(
        "import_mapping.update",
        m,
        summary=f"mapping {name}",
        changes={k: [before[k], after[k]] for k in after if before[k] != after[k]},
    )
    return m


@transaction.atomic
def delete_mapping(name: str, *, expected_version: int | None = None) -> None:
    m = get_mapping(name)
    if expected_version is not None and m.version != expected_version:
        from folio.errors import StaleWrite

        raise StaleWrite(
            f"mapping {name} was changed meanwhile",
            details={"current_version": m.version, "current": mapping_snapshot(m)},
        )
    audit.record("import_mapping.delete", m, summary=f"mapping {name}", changes=mapping_snapshot(m))
    m.delete()


def _user(user):
    user = user if user is not None else audit.current_actor().user
    return user if getattr(user, "pk", None) else None


# --- imports ----------------------------------------------------------------------------------


def stage_upload(uploaded, name: str) -> Path:
    """Keep an uploaded file for the job that reads it (deleted when the run ends)."""
    size = getattr(uploaded, "size", None)
    if size is not None and size > limit("MAX_UPLOAD_BYTES"):
        raise TooLarge(
            f"{name} is {size:,} bytes; uploads are at most {limit('MAX_UPLOAD_BYTES'):,}"
        )
    folder = staging_dir() / uuid.uuid4().hex
    folder.mkdir()
    target = folder / safe_filename(name)
    written = 0
    with open(target, "wb") as out:
        for chunk in uploaded.chunks():
            written += len(chunk)
            if written > limit("MAX_UPLOAD_BYTES"):
                shutil.rmtree(folder, ignore_errors=True)
                raise TooLarge(f"{name} is larger than uploads may be")
            out.write(chunk)
    return target


def _check_kind(kind):
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"kind {kind!r}: one of {', '.join(KINDS)}", details={"field": "kind"})


def prune_runs(days: int | None = None) -> dict:
    """Runs (with their problems) and export files older than the job retention go: every
    new run calls this, so neither the problem table nor the exports folder grows forever."""
    import datetime

    days = settings.JOB_RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - datetime.timedelta(days=days)
    files = 0
    for run in ExportRun.objects.filter(created_at__lt=cutoff).exclude(path=""):
        path = Path(run.path)
        if path.is_file() and path.resolve().is_relative_to(exports_dir().resolve()):
            shutil.rmtree(path.parent, ignore_errors=True)
            files += 1
    exports, _ = ExportRun.objects.filter(created_at__lt=cutoff).delete()
    imports, _ = ImportRun.objects.filter(created_at__lt=cutoff).delete()
    return {
        "import_runs": imports,
        "export_runs": exports,
        "export_files": files,
        "left_by_dead_processes": _sweep_leftovers(),
    }


def _sweep_leftovers() -> int:
    """Folders no run names, untouched for FOLIO_STALE_FILE_GRACE: an export killed while
    writing its file (its run records the path only at the end), an upload whose process died
    before its run was committed. (A run that is reaped deletes its own upload.)"""
    named = {
        Path(p).parent.name
        for p in ExportRun.objects.exclude(path="").values_list("path", flat=True)
    } | {
        Path(p).parent.name
        for p in ImportRun.objects.exclude(staged_path="").values_list("staged_path", flat=True)
    }
    cutoff = time.time() - settings.STALE_FILE_GRACE
    swept = 0
    for parent in (exports_dir(), staging_dir()):
        for folder in parent.iterdir():
            if not folder.is_dir() or folder.name in named:
                continue
            try:
                touched = max(
                    [folder.stat().st_mtime, *(f.stat().st_mtime for f in folder.iterdir())]
                )
            except FileNotFoundError:  # removed meanwhile
                continue
            if touched < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                swept += 1
    return swept


def create_run(
    source: str,
    *,
    user=None,
    via: str = "cli",
    dry_run=False,
    all_or_nothing=False,
    mapping: str | None = None,
    staged: Path | None = None,
    **options,
) -> ImportRun:
    user = _user(user)
    if user is not None:
        require(user, "imports.add_importrun")
    _check_kind(options.get("kind"))
    m = get_mapping(mapping) if mapping else None
    prune_runs()
    return ImportRun.objects.create(
        source=str(source)[:500],
        staged_path=str(staged or ""),
        dry_run=dry_run,
        all_or_nothing=all_or_nothing,
        mapping=m,
        created_by=user,
        via=via,
        # The mapping's name too: the foreign key is cleared when the mapping is deleted, and a
        # dry run's real run must then refuse rather than read the file without it.
        options={
            **{k: val for k, val in options.items() if val not in (None, False, "")},
            **({"mapping": m.name} if m else {}),
        },
    )


def start_import(uploaded, name: str, *, user, **options) -> ImportRun:
    """API and web: keep the upload, record the run, start its job. A dry run's upload is
    also kept for run_dry_run_for_real (keep_dry_run_upload)."""
    require(user, "imports.add_importrun")
    staged = stage_upload(uploaded, name)
    run = None
    try:
        with transaction.atomic():
            run = create_run(name, user=user, via="api", staged=staged, **options)
            if run.dry_run:
                # Before the job is queued (on commit): it deletes `staged` when it ends.
                keep_dry_run_upload(run, staged)
            run.job = start_job(import_job, label=f"Import {name}"[:300], user=user, run_id=run.pk)
            run.save(update_fields=["job"])
    except BaseException:
        shutil.rmtree(staged.parent, ignore_errors=True)
        if run is not None and run.pk:
            shutil.rmtree(kept_upload_folder(run.pk), ignore_errors=True)
        raise
    return run


# --- a dry run's file, kept to run it for real ----------------------------------------------
#
# The import job deletes its uploaded copy when the run ends, so a dry run cannot be run again
# from it. A second copy is kept in the staging folder, in a folder named after the dry run.
# No run names that folder (staged_path), so prune_runs sweeps it like any leftover upload once
# FOLIO_STALE_FILE_GRACE (an hour by default) has passed: within that time the dry run can be
# run for real; after it, the file is uploaded again.

# The reading options a run keeps (run.options) that a real run after a dry run repeats.
READING_OPTIONS = ("kind", "encoding", "delimiter", "decimal_comma", "sheet")


def kept_upload_folder(run_id: int) -> Path:
    return staging_dir() / f"dry-run-{int(run_id)}"


def keep_dry_run_upload(run: ImportRun, staged: Path) -> Path:
    """Keep the staged upload of a dry run for run_dry_run_for_real. A hard link when the
    file system allows it (the upload is not read or stored twice; the job deleting its own
    name leaves this one), else a copy."""
    folder = kept_upload_folder(run.pk)
    folder.mkdir(exist_ok=True)
    kept = folder / staged.name
    try:
        os.link(staged, kept)
    except OSError:
        shutil.copyfile(staged, kept)
    return kept


def _no_longer_kept(run: ImportRun) -> Conflict:
    return Conflict(
        f"the file of dry run {run.pk} is no longer kept (it was run for real already, or "
        "longer ago than FOLIO_STALE_FILE_GRACE): upload it again to import it",
        details={"run": run.pk},
    )


def dry_run_file_kept(run: ImportRun) -> bool:
    """Can this run be run for real (a finished dry run whose file is still kept)?"""
    folder = kept_upload_folder(run.pk)
    return (
        run.dry_run
        and run.status == ImportRun.Status.DONE
        and folder.is_dir()
        and any(folder.iterdir())
    )


@contextmanager
def _claimed_dry_run(run_id: int, user):
    """A finished dry run and its kept file, claimed by renaming its folder (atomic): of two
    clicks or calls, one gets the file and the other a Conflict. The claimed copy is deleted
    when the block ends; a FolioError in the block (nothing started) puts it back, so it can
    be tried again. `user` None is the operator at the server's console (every run)."""
    if user is None:
        dry = ImportRun.objects.select_related("mapping").filter(pk=run_id).first()
        if dry is None:
            raise NotFound(f"no import {run_id}")
    else:
        dry = get_import(run_id, user)  # others' runs: 404 without imports.view_importrun
        require(user, "imports.add_importrun")
    if not dry.dry_run:
        raise InvalidInput(f"import {dry.pk} is not a dry run", details={"run": dry.pk})
    if dry.status != ImportRun.Status.DONE:
        raise Conflict(
            f"dry run {dry.pk} is {dry.status}: only a finished dry run is run for real",
            details={"run": dry.pk, "status": dry.status},
        )
    if dry.options.get("mapping") and not dry.mapping_id:
        raise Conflict(
            f"the column mapping {dry.options['mapping']!r} of dry run {dry.pk} was deleted: "
            "import the file again with a mapping",
            details={"run": dry.pk, "mapping": dry.options["mapping"]},
        )
    folder = kept_upload_folder(dry.pk)
    claimed = folder.with_name(f"{folder.name}-claimed-{uuid.uuid4().hex}")
    try:
        folder.rename(claimed)
    except OSError:  # gone (swept, or claimed by another call)
        raise _no_longer_kept(dry) from None
    try:
        held = next(iter(sorted(claimed.iterdir())), None)
        if held is None:
            raise _no_longer_kept(dry)
        try:
            yield dry, held
        except FolioError:
            claimed.rename(folder)
            raise
    finally:
        shutil.rmtree(claimed, ignore_errors=True)


def _real_run_options(dry: ImportRun) -> dict:
    return {
        "dry_run": False,
        "all_or_nothing": dry.all_or_nothing,
        "mapping": dry.mapping.name if dry.mapping_id else None,
        **{k: dry.options.get(k) for k in READING_OPTIONS},
    }


def run_dry_run_for_real(run_id: int, user) -> ImportRun:
    """Import the file of a finished dry run with the dry run's options and mapping, this
    time writing, as a background job (API and web). Once the real run has started (it
    stages its own copy) the kept copy is deleted."""
    with _claimed_dry_run(run_id, user) as (dry, held), open(held, "rb") as handle:
        return start_import(
            File(handle, name=held.name), dry.source, user=user, **_real_run_options(dry)
        )


def stage_dry_run_for_real(run_id: int, user, *, via: str = "cli") -> ImportRun:
    """The same as run_dry_run_for_real, for a caller that runs the import in its own process
    (`folio import --run-dry-run ID`, with its progress bar): the kept file is staged as
    the run's upload (deleted when the run ends) and the run is returned without a job."""
    with _claimed_dry_run(run_id, user) as (dry, held):
        with open(held, "rb") as handle:
            staged = stage_upload(File(handle, name=held.name), held.name)
        try:
            return create_run(
                dry.source, user=user, via=via, staged=staged, **_real_run_options(dry)
            )
        except BaseException:
            shutil.rmtree(staged.parent, ignore_errors=True)
            raise


@job("Import products, models or structure from a file", max_attempts=1)
def import_job(ctx: JobContext, run_id: int) -> dict:
    run = ImportRun.objects.select_related("mapping", "created_by").get(pk=run_id)
    return execute(run, ctx=ctx)


def execute(run: ImportRun, *, ctx: JobContext | None = None, path: str | None = None) -> dict:
    """Run an import record to its end; returns its counts."""
    for _ in steps(run, ctx=ctx, path=path):
        pass
    return run.counts


@contextmanager
def _database_not_mapped():
    """SQLite: read the database through read() and the connection's own page cache instead
    of a memory map while an import runs. An import touches index pages all over a file of
    many GB, and every mapped page it touched counts in the importing process's resident
    memory (1.4 GB of its 1.6 GB peak RSS at 1M products, bench/bench_imports.py), where the
    page cache keeps a fixed 64 MiB; the OS still caches the file either way."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA mmap_size")
        mapped = cursor.fetchone()[0]
        cursor.execute("PRAGMA mmap_size=0")
    try:
        yield
    finally:
        if connection.connection is not None and not connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA mmap_size={int(mapped)}")


def steps(run: ImportRun, *, ctx: JobContext | None = None, path: str | None = None):
    """Run an import record, yielding ("total", estimated rows) first, then the number of rows
    finished as it goes (progress bars). The run's status, counts and problems are saved
    whatever happens."""
    with _database_not_mapped():
        yield from _steps(run, ctx=ctx, path=path)


def _steps(run: ImportRun, *, ctx: JobContext | None, path: str | None):
    started = time.monotonic()
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportRun.Status.RUNNING, started_at=timezone.now()
    )
    opts = run.options or {}
    source = None
    importer = None
    try:
        source = open_source(
            run.staged_path or path or run.source,
            media_dir=opts.get("media_dir"),
            name=Path(run.source).name if run.staged_path else "",
        )
        importer = Importer(
            source,
            user=run.created_by,
            dry_run=run.dry_run,
            all_or_nothing=run.all_or_nothing,
            mapping=run.mapping,
            kind=opts.get("kind"),
            encoding=opts.get("encoding"),
            delimiter=opts.get("delimiter"),
            decimal_comma=bool(opts.get("decimal_comma")),
            sheet=opts.get("sheet"),
        )
        total = importer.estimate_rows()
        if ctx is not None:
            ctx.set_total(total)
        yield ("total", total)
        done = 0
        for n in importer.run():
            done += n
            yield n
            if ctx is not None:
                ctx.job.progress_done = done
                ctx.job.items_ok = importer.report.ok
                ctx.job.items_failed = importer.report.totals()["skipped"]
                # A run in one transaction must not write (its rows would be rolled back
                # with it, and it would hold the job row's lock); it shows figures at the end.
                if not importer.single_transaction:
                    # Every ~100 rows (one small UPDATE): if the process is killed, the job
                    # still says how far it got and which rows were wrong up to there.
                    if len(ctx.job.errors) < Job.MAX_KEPT_ERRORS:
                        ctx.job.errors = _job_errors(importer.report.problems)
                    ctx.job.progress_total = max(ctx.job.progress_total or 0, done)
                    ctx.record_progress()
                    ctx.flush()  # every half second: notices a cancellation
        _finish(run, importer, started, ctx=ctx)
    except JobCancelled:
        _finish(run, importer, started, ctx=ctx, failed="cancelled on request")
        raise
    except FolioError as exc:
        _finish(run, importer, started, ctx=ctx, failed=exc.message)
        raise
    except Exception as exc:
        log.exception("import %s failed", run.pk)
        _finish(run, importer, started, ctx=ctx, failed=f"{type(exc).__name__}: {exc}")
        raise
    except BaseException:  # interrupted (Ctrl-C), or the caller stopped reading
        _finish(run, importer, started, ctx=ctx, failed="interrupted")
        raise
    finally:
        if source is not None:
            source.cleanup()
        if run.staged_path:
            shutil.rmtree(Path(run.staged_path).parent, ignore_errors=True)


def inline_job(label: str, kind_func, params: dict, user, *, reports_progress=True) -> Job:
    """A Job row for work the CLI does in its own process, so the API shows it too; no
    worker picks it up. It carries this process's worker id, and a thread beats for it until
    finish_inline_job (a run in one transaction, or an export, reports nothing on the way), so
    the reaper fails it like a dead worker's job if the process is killed. (An all-or-nothing
    run killed mid-way wrote nothing: its transaction never committed.) `reports_progress` no
    longer changes anything."""
    worker_id = this_process_as_worker()
    row = Job.objects.create(
        kind=kind_func.job_name,
        label=label[:300],
        params=params,
        status=Job.Status.RUNNING,
        created_by=_user(user),
        started_at=timezone.now(),
        attempts=1,
        max_attempts=1,
        worker_id=worker_id,
    )
    _beating[row.pk] = beat_in_background(worker_id)
    return row


_beating: dict = {}  # inline job id → stops its heartbeat thread


def finish_inline_job(row: Job, *, failed: str | None = None, result=None) -> None:
    stop = _beating.pop(row.pk, None)
    if stop is not None:
        stop()
    row.status = Job.Status.FAILED if failed else Job.Status.SUCCEEDED
    Job.objects.filter(pk=row.pk).update(
        status=row.status,
        finished_at=timezone.now(),
        message=(failed or "")[:2000],
        result=result,
        progress_done=row.progress_done,
        progress_total=max(row.progress_total or 0, row.progress_done),
        items_ok=row.items_ok,
        items_failed=row.items_failed,
        errors=row.errors,
    )


def _finish(
    run: ImportRun,
    importer: Importer | None,
    started: float,
    *,
    ctx=None,
    failed: str | None = None,
) -> None:
    report = importer.report if importer is not None else None
    summary = importer.summary() if importer is not None else {}
    problems = report.problems if report is not None else []
    if failed and report is not None:
        report.add(reason=failed)
        problems = report.problems
    elif failed:
        problems = [
            {
                "severity": "error",
                "file": "",
                "row": None,
                "column": "",
                "value": "",
                "code": "",
                "reason": failed,
            }
        ]
    ImportProblem.objects.filter(run=run).delete()
    ImportProblem.objects.bulk_create(
        [ImportProblem(run=run, **p) for p in problems], batch_size=1000
    )
    totals = summary.get("totals", {})
    written = bool(report) and not report.rolled_back and not run.dry_run
    if failed:
        message = failed
    elif run.dry_run:
        message = (
            f"dry run: {totals.get('rows', 0)} rows checked, "
            f"{counted(report.errors, 'problem')}; nothing written"
        )
    elif report.rolled_back:
        message = (
            f"nothing written: {counted(report.errors, 'problem')} and all-or-nothing was asked"
        )
    else:
        message = (
            f"{totals.get('created', 0)} created, {totals.get('updated', 0)} updated, "
            f"{totals.get('unchanged', 0)} unchanged, {totals.get('skipped', 0)} "
            "skipped"
        )
    run.status = ImportRun.Status.FAILED if failed else ImportRun.Status.DONE
    run.finished_at = timezone.now()
    run.counts = summary
    run.problem_count = report.problem_count if report is not None else len(problems)
    run.written = written
    run.message = message[:2000]
    run.duration_ms = int((time.monotonic() - started) * 1000)
    run.save(
        update_fields=[
            "status",
            "finished_at",
            "counts",
            "problem_count",
            "written",
            "message",
            "duration_ms",
        ]
    )
    if ctx is not None:
        ctx.job.errors = _job_errors(problems)
        ctx.job.progress_total = max(ctx.job.progress_total or 0, ctx.job.progress_done)
    audit.record(
        "import.dry_run" if run.dry_run else "import.run",
        run,
        summary=f"import {run.source}: {message}"[:300],
        changes={
            "totals": totals,
            "problems": run.problem_count,
            "rolled_back": bool(report and report.rolled_back),
        },
    )


def _job_errors(problems: list[dict]) -> list[dict]:
    """The import's errors as the job shows them (the first Job.MAX_KEPT_ERRORS)."""
    return [
        {
            "item": p["code"] or p["file"],
            "message": p["reason"],
            **{k: p[k] for k in ("file", "row", "column", "value") if p[k] not in ("", None)},
        }
        for p in problems
        if p["severity"] == "error"
    ][: Job.MAX_KEPT_ERRORS]


@receiver(job_died)
def _fail_runs_of_dead_job(sender, job: Job, retrying: bool, **kwargs) -> None:
    """The process running an import or export was killed: its run is marked failed with
    what the job had recorded so far, and the uploaded copy it was reading is deleted.
    Rows written before are kept (each batch is committed whole or not at all) and running
    the import again is safe: rows already written come out unchanged."""
    if retrying:
        return  # the next attempt runs the same run again
    cut = job.items_ok + job.items_failed
    unfinished = [Run.Status.PENDING, Run.Status.RUNNING]
    for run in ImportRun.objects.filter(job=job, status__in=unfinished):
        kept = (
            "nothing was written (it ran as one transaction)"
            if run.dry_run or run.all_or_nothing
            else "the rows imported before are kept"
        )
        message = (
            f"interrupted: the process running it died after {counted(job.progress_done, 'row')} "
            f"({job.items_ok} imported, {job.items_failed} skipped); {kept}; "
            "run the import again to finish it"
        )
        problems = [
            ImportProblem(
                run=run,
                file=e.get("file", "")[:500],
                row=e.get("row"),
                column=str(e.get("column", ""))[:300],
                value=str(e.get("value", ""))[:300],
                code=e.get("item", "")[:200] if e.get("item") != e.get("file") else "",
                reason=e["message"],
            )
            for e in job.errors
        ]
        problems.append(ImportProblem(run=run, reason=message))
        with transaction.atomic():
            ImportProblem.objects.filter(run=run).delete()
            ImportProblem.objects.bulk_create(problems, batch_size=1000)
            ImportRun.objects.filter(pk=run.pk).update(
                status=Run.Status.FAILED,
                finished_at=timezone.now(),
                message=message[:2000],
                problem_count=len(problems),
                written=cut > 0 and not run.dry_run and not run.all_or_nothing,
                counts={
                    "totals": {
                        "rows": job.progress_done,
                        "imported": job.items_ok,
                        "skipped": job.items_failed,
                    },
                    "interrupted": True,
                },
            )
        if run.staged_path:
            staged = Path(run.staged_path)
            if staged.parent.resolve().is_relative_to(staging_dir().resolve()):
                shutil.rmtree(staged.parent, ignore_errors=True)
    ExportRun.objects.filter(job=job, status__in=unfinished).update(
        status=Run.Status.FAILED,
        finished_at=timezone.now(),
        message="interrupted: the process writing the export died; start it again",
    )


def visible_runs(model, user, view_perm: str):
    qs = model.objects.select_related("created_by", "job")
    return qs if user.has_perm(view_perm) else qs.filter(created_by=user)


def get_import(run_id: int, user) -> ImportRun:
    run = visible_runs(ImportRun, user, "imports.view_importrun").filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"no import {run_id}")
    return run


# --- exports ----------------------------------------------------------------------------------


def check_export_permissions(user, what: str) -> None:
    if user is None:
        return
    if what in ("products", "all"):
        require(user, "catalog.view_product")
    if what in ("models", "all"):
        require(user, "catalog.view_productmodel")
    if what in ("structure", "all") or what in KINDS[:-2]:
        require(user, "catalog.view_attribute")
        require(user, "catalog.view_family")


def export_options(
    what: str | None, fmt: str | None, filters, locales, labels_locale, media: bool
) -> dict:
    return {
        "what": what or "products",
        "format": fmt or "csv",
        "filters": filters or {},
        "locales": locales or [],
        "labels_locale": labels_locale,
        "media": bool(media),
    }


def start_export(
    *, user, what="products", fmt="csv", filters=None, locales=None, labels_locale=None, media=False
) -> ExportRun:
    check_export_permissions(user, what)
    if fmt not in exporter.FORMATS:
        raise InvalidInput(f"format {fmt!r}: use csv or xlsx", details={"field": "format"})
    if what not in (*exporter.WHAT, *exporter.STRUCTURE_KINDS):
        raise InvalidInput(
            f"what {what!r}: products, models, structure, all or a structure kind",
            details={"field": "what"},
        )
    from folio.catalog import bulk_edit

    bulk_edit.selection(bulk_edit.normalise_filter(filters or {}))  # a bad filter: 422 now
    prune_runs()
    with transaction.atomic():
        run = ExportRun.objects.create(
            what=what,
            format=fmt if what not in ("all", "structure") else "zip",
            created_by=_user(user),
            via="api",
            options=export_options(what, fmt, filters, locales, labels_locale, media),
        )
        run.job = start_job(export_job, label=f"Export {what}", user=user, run_id=run.pk)
        run.save(update_fields=["job"])
    return run


@job("Export products, models or structure", max_attempts=1)
def export_job(ctx: JobContext, run_id: int) -> dict:
    run = ExportRun.objects.get(pk=run_id)
    folder = exports_dir() / uuid.uuid4().hex
    folder.mkdir()
    o = run.options
    suffix = ".zip" if run.format == "zip" else f".{run.format}"
    dest = folder / f"{run.what}-{timezone.now():%Y%m%d-%H%M%S}{suffix}"
    return execute_export(run, dest, ctx=ctx, fmt=o.get("format"))


def execute_export(run: ExportRun, dest: Path, *, ctx=None, fmt=None, on_rows=None) -> dict:
    started = time.monotonic()
    ExportRun.objects.filter(pk=run.pk).update(
        status=ExportRun.Status.RUNNING, started_at=timezone.now()
    )
    o = run.options
    done = [0]

    def progress(n):
        done[0] += n
        if on_rows is not None:
            on_rows(n)
        if ctx is not None:
            ctx.job.progress_done = done[0]
            ctx.job.items_ok = done[0]
            ctx.flush()

    try:
        counts = exporter.export(
            dest,
            what=o.get("what"),
            fmt=fmt,
            filters=o.get("filters") or None,
            locales=o.get("locales") or None,
            labels_locale=o.get("labels_locale"),
            media=bool(o.get("media")),
            progress=progress,
        )
    except Exception as exc:
        run.status, run.message = ExportRun.Status.FAILED, str(getattr(exc, "message", exc))
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "message", "finished_at"])
        raise
    run.status = ExportRun.Status.DONE
    run.finished_at = timezone.now()
    run.counts = counts
    run.path = str(dest)
    run.duration_ms = int((time.monotonic() - started) * 1000)
    run.message = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())[:2000]
    run.save(update_fields=["status", "finished_at", "counts", "path", "duration_ms", "message"])
    audit.record(
        "export.run",
        run,
        summary=f"export {run.what}: {run.message}"[:300],
        changes={"counts": counts, "options": o},
    )
    return counts


def get_export(run_id: int, user) -> ExportRun:
    run = visible_runs(ExportRun, user, "imports.view_exportrun").filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"no export {run_id}")
    return run
