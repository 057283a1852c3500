"""Import pages: the recent runs with an upload form (dry run or real run, all-or-nothing, a
saved column mapping, reading options), a run's page (the job's progress while it runs; then
its counts and the problems table, file/row/column/value/reason) with "Run for real" after a
dry run, and the saved column mappings with how each column is read.

Everything goes through folio.imports.services, as the API does: start_import (which checks
imports.add_importrun and the upload size limit), get_import and visible_runs (own runs, every
run with imports.view_importrun), list_mappings. Nothing here reads or writes a spreadsheet.
"""

import shutil

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from folio.accounts.services import require
from folio.errors import Conflict, FolioError, InvalidInput
from folio.imports import services
from folio.imports.limits import limit
from folio.imports.models import ImportProblem, ImportRun
from folio.imports.sources import KINDS
from folio.jobs.services import get_job
from folio.web import nav
from folio.web.views.base import int_param, page

nav.register(
    nav.NavEntry("imports", gettext_lazy("Imports"), "web:imports", "imports.add_importrun", 55)
)

RECENT_RUNS = 50
PROBLEMS_PER_PAGE = 50
DELIMITERS = {"": "", "semicolon": ";", "comma": ",", "tab": "\t", "pipe": "|"}
COUNT_LABELS = (
    ("rows", gettext_lazy("Rows")),
    ("created", gettext_lazy("Created")),
    ("updated", gettext_lazy("Updated")),
    ("unchanged", gettext_lazy("Unchanged")),
    ("skipped", gettext_lazy("Skipped")),
    ("errors", gettext_lazy("Errors")),
    ("warnings", gettext_lazy("Warnings")),
)


def _flag(value) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


# --- the runs and the upload form --------------------------------------------------------------


def _form_from(post) -> dict:
    return {
        "mode": "run" if post.get("mode") == "run" else "dry_run",
        "all_or_nothing": _flag(post.get("all_or_nothing")),
        "mapping": post.get("mapping", ""),
        "kind": post.get("kind", ""),
        "encoding": post.get("encoding", "").strip(),
        "delimiter": post.get("delimiter", ""),
        "decimal_comma": _flag(post.get("decimal_comma")),
        "sheet": post.get("sheet", "").strip(),
    }


def _start(request, form: dict) -> ImportRun:
    uploaded = request.FILES.get("file")
    if uploaded is None:
        raise InvalidInput(_("Choose a file to import."), details={"field": "file"})
    if form["delimiter"] not in DELIMITERS:
        raise InvalidInput(_("Choose a delimiter from the list."), details={"field": "delimiter"})
    # A dry run's file is kept by start_import itself, for "Run for real".
    return services.start_import(
        uploaded,
        uploaded.name or "upload",
        user=request.user,
        dry_run=form["mode"] == "dry_run",
        all_or_nothing=form["all_or_nothing"],
        mapping=form["mapping"] or None,
        kind=form["kind"] or None,
        encoding=form["encoding"] or None,
        delimiter=DELIMITERS[form["delimiter"]] or None,
        decimal_comma=form["decimal_comma"],
        sheet=form["sheet"] or None,
    )


@page(methods=("GET", "POST"))
def imports(request):
    """Every signed-in user sees their own runs (all of them with imports.view_importrun,
    as GET /api/v1/imports); the form is for imports.add_importrun only."""
    can_import = request.user.has_perm("imports.add_importrun")
    form = _form_from({})
    error = None
    status = 200
    if request.method == "POST":
        # Refused before the upload is read, whatever the form holds.
        require(request.user, "imports.add_importrun")
        form = _form_from(request.POST)
        try:
            run = _start(request, form)
        except FolioError as exc:
            error, status = exc.message, exc.status
        else:
            messages.success(
                request,
                (_("Dry run %(id)s started.") if run.dry_run else _("Import %(id)s started."))
                % {"id": run.pk},
            )
            return redirect(reverse("web:import_run", args=[run.pk]))
    runs = list(
        services.visible_runs(ImportRun, request.user, "imports.view_importrun")
        .select_related("mapping")
        .order_by("-id")[:RECENT_RUNS]
    )
    can_see_mappings = request.user.has_perm("imports.view_columnmapping")
    context = {
        "section": "imports",
        "runs": runs,
        "can_import": can_import,
        "mappings": list(services.list_mappings()) if can_import and can_see_mappings else [],
        "can_see_mappings": can_see_mappings,
        "kinds": KINDS,
        "delimiters": [k for k in DELIMITERS if k],
        "form": form,
        "error": error,
        "max_upload_bytes": limit("MAX_UPLOAD_BYTES"),
    }
    return render(request, "web/imports/index.html", context, status=status)


# --- one run ----------------------------------------------------------------------------------


def _finished(run: ImportRun) -> bool:
    if run.status in (ImportRun.Status.DONE, ImportRun.Status.FAILED):
        return True
    # A job that ended without finishing its run (a dead worker) will not finish it.
    return run.job is not None and run.job.is_finished


def _visible_job(run: ImportRun, user):
    if not run.job_id:
        return None
    try:
        return get_job(run.job_id, user)
    except FolioError:  # someone else's job: the run's own status is shown instead
        return None


@page()
def import_run(request, run_id: int):
    # get_import: the same visibility as GET /api/v1/imports/{id} (404 for others' runs
    # without imports.view_importrun).
    run = services.get_import(run_id, request.user)
    finished = _finished(run)
    context = {
        "section": "imports",
        "run": run,
        "finished": finished,
        "job": None if finished else _visible_job(run, request.user),
        "count_labels": COUNT_LABELS,
    }
    if finished:
        counts = run.counts or {}
        problems = ImportProblem.objects.filter(run=run).order_by("id")
        paginator = Paginator(problems, PROBLEMS_PER_PAGE)
        problem_page = paginator.get_page(int_param(request.GET.get("page"), 1))
        context.update(
            totals=counts.get("totals", {}),
            files=counts.get("files", []),
            problems=problem_page,
            can_run_for_real=(
                request.user.has_perm("imports.add_importrun") and services.dry_run_file_kept(run)
            ),
            can_import=request.user.has_perm("imports.add_importrun"),
        )
    return render(request, "web/imports/run.html", context)


@page()
def import_watch(request, run_id: int):
    """Asked every second by a running import's page: nothing until it finishes, then the page
    reloads itself with the report (the job's progress bar is its own partial)."""
    run = services.get_import(run_id, request.user)
    if not _finished(run):
        return HttpResponse(status=204)
    response = HttpResponse(status=200)
    response["HX-Refresh"] = "true"
    return response


@page("imports.add_importrun", methods=("POST",))
def import_run_for_real(request, run_id: int):
    """The dry run's file, imported with the dry run's options, this time writing (as
    POST /api/v1/imports/{id}/run): services.run_dry_run_for_real."""
    try:
        run = services.run_dry_run_for_real(run_id, request.user)
    except (Conflict, InvalidInput) as exc:  # already run, no longer kept, not a dry run
        messages.error(request, exc.message)
        return redirect(reverse("web:import_run", args=[run_id]))
    messages.success(request, _("Import %(id)s started.") % {"id": run.pk})
    return redirect(reverse("web:import_run", args=[run.pk]))


# --- saved column mappings -------------------------------------------------------------------


def rule_text(rule: dict) -> str:
    """How a mapping rule reads its column, in words."""
    if rule.get("ignore"):
        return _("ignored")
    if "field" in rule:
        text = _("field %(field)s") % {"field": rule["field"]}
    elif "attribute" in rule:
        text = _("attribute %(attribute)s") % {"attribute": rule["attribute"]}
        where = [str(rule[k]) for k in ("locale", "channel", "scope", "currency") if rule.get(k)]
        if where:
            text += f" ({', '.join(where)})"
        if rule.get("part") == "unit":
            text += " · " + _("its unit")
    elif "media" in rule:
        text = _("media in the role %(role)s") % {"role": rule["media"]}
    elif "association" in rule:
        text = _("association %(type)s") % {"type": rule["association"]}
    else:
        text = "?"
    ops = [t.get("op", "?") for t in rule.get("transforms") or [] if isinstance(t, dict)]
    if ops:
        text += " · " + _("then %(ops)s") % {"ops": ", ".join(ops)}
    return text


def _read_header(uploaded, form: dict) -> tuple[list[str], list[str]]:
    """The headings of a sample spreadsheet and its first row, read by the importer's own
    readers from a copy staged like an import's upload (the same size limit)."""
    from folio.imports.readers import ReadError, open_tables

    staged = services.stage_upload(uploaded, uploaded.name or "sample")
    try:
        tables = open_tables(
            staged,
            uploaded.name or "sample",
            encoding=form["encoding"] or None,
            delimiter=DELIMITERS.get(form["delimiter"]) or None,
            sheet=form["sheet"] or None,
        )
        table = next(tables, None)
        if table is None:
            raise InvalidInput(_("The file holds no table."), details={"field": "sample"})
        try:
            first = next(table.rows, None)
        finally:
            table.close()
        cells = list(first[1]) if first else []
        return table.header, [str(c) for c in cells]
    except ReadError as exc:
        raise InvalidInput(exc.message, details={"field": "sample"}) from None
    finally:
        shutil.rmtree(staged.parent, ignore_errors=True)


def col_text(col) -> str:
    """How the importer reads a column without a mapping, in words."""
    where = [x for x in (col.locale, col.scope, col.currency) if x]
    suffix = f" ({', '.join(where)})" if where else ""
    if col.kind == "field":
        return _("field %(field)s") % {"field": col.code}
    if col.kind == "value" and not col.code:
        return _("not understood")
    if col.kind == "value":
        return _("attribute %(attribute)s") % {"attribute": col.code} + suffix
    if col.kind == "unit":
        return _("the unit of %(attribute)s") % {"attribute": col.code} + suffix
    if col.kind == "media":
        return _("media in the role %(role)s") % {"role": col.code} + suffix
    if col.kind in ("assoc", "quantity"):
        return _("association %(type)s to %(target)s") % {"type": col.code, "target": col.target}
    if col.kind == "blank":
        return _("a column without a heading")
    return _("ignored")


def _columns_context(header: list[str], sample: list[str], kind: str, chosen: list[dict]):
    """Each column with its sample value, how it is read without a mapping (and the problem
    the importer would report), and what the form chose for it."""
    from folio.catalog import values as v
    from folio.imports.columns import plan_columns

    structure = v.Structure.load()
    plan = plan_columns(header, kind, structure)
    problems: dict[str, str] = {}
    for name, reason, _severity in plan.problems:
        problems.setdefault(name, reason)  # the first one says what is wrong with it
    out = []
    for i, col in enumerate(plan.cols):
        out.append(
            {
                "index": i,
                "header": col.header,
                "sample": sample[i] if i < len(sample) else "",
                "usual": col_text(col),
                "problem": problems.get(col.header, ""),
                "chosen": chosen[i] if i < len(chosen) else {},
            }
        )
    return out, structure


def _rules_from(post, count: int) -> tuple[list[dict], list[dict]]:
    """The form's choices → mapping rules (for create_mapping) and the choices as made (to
    show the form again). A column left at "usual reading" is not in the mapping."""
    rules, chosen = [], []
    for i in range(count):
        header = post.get(f"col-{i}", "")
        target = post.get(f"target-{i}", "")
        choice = {
            "target": target,
            "locale": post.get(f"locale-{i}", ""),
            "channel": post.get(f"channel-{i}", ""),
            "unit": _flag(post.get(f"unit-{i}")),
            "trim": _flag(post.get(f"trim-{i}")),
        }
        chosen.append(choice)
        if not target or not header:
            continue
        what, _sep, code = target.partition(":")
        rule: dict = {"column": header}
        if what == "ignore":
            rule["ignore"] = True
        elif what == "field":
            rule["field"] = code
        elif what == "attribute":
            rule["attribute"] = code
            if choice["locale"]:
                rule["locale"] = choice["locale"]
            if choice["channel"]:
                rule["channel"] = choice["channel"]
        transforms = []
        if choice["trim"] and what != "ignore":
            transforms.append({"op": "trim"})
        if choice["unit"] and what == "attribute":
            transforms.append({"op": "unit"})
        if transforms:
            rule["transforms"] = transforms
        rules.append(rule)
    return rules, chosen


@page("imports.add_columnmapping", methods=("GET", "POST"))
def mapping_new(request):
    """Save a column mapping from a sample file: its columns are read and shown with how the
    importer reads them without a mapping; a select per column maps it to a field or an
    attribute (with locale and channel, trimmed, units in the cell) or ignores it. Saved
    through services.create_mapping, which checks every rule as POST /imports/mappings does."""
    post = request.POST
    form = _form_from(post)
    form["kind"] = post.get("kind") if post.get("kind") == "product_models" else "products"
    meta = {"name": post.get("name", "").strip(), "description": post.get("description", "")}
    header: list[str] = []
    sample: list[str] = []
    chosen: list[dict] = []
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        count = int_param(post.get("count"), 0, low=0, high=limit("MAX_COLUMNS"))
        try:
            if post.get("action") == "read":
                uploaded = request.FILES.get("sample")
                if uploaded is None:
                    raise InvalidInput(_("Choose a sample file."), details={"field": "sample"})
                header, sample = _read_header(uploaded, form)
            else:
                header = [post.get(f"col-{i}", "") for i in range(count)]
                sample = [post.get(f"sample-{i}", "") for i in range(count)]
                rules, chosen = _rules_from(post, count)
                options = {"kind": form["kind"]}
                if DELIMITERS.get(form["delimiter"]):
                    options["delimiter"] = DELIMITERS[form["delimiter"]]
                if form["decimal_comma"]:
                    options["decimal_comma"] = True
                services.create_mapping(
                    meta["name"],
                    description=meta["description"],
                    options=options,
                    columns=rules,
                    user=request.user,
                )
                messages.success(request, _("Saved the mapping %(name)s.") % meta)
                return redirect(reverse("web:import_mappings") + f"#mapping-{meta['name']}")
        except FolioError as exc:
            status = exc.status
            details = exc.details if isinstance(exc.details, list) else []
            errors = [d["reason"] for d in details if isinstance(d, dict) and "reason" in d]
            errors = errors or [exc.message]
    columns_, structure = _columns_context(header, sample, form["kind"], chosen)
    from folio.imports.columns import FIELDS

    context = {
        "section": "imports",
        "form": form,
        "meta": meta,
        "columns": columns_,
        "errors": errors,
        "fields": FIELDS[form["kind"]],
        "attributes": sorted(structure.attributes.values(), key=lambda a: a.code),
        "locales": sorted(structure.locales),
        "channels": sorted(structure.channels),
        "delimiters": [k for k in DELIMITERS if k],
        "max_upload_bytes": limit("MAX_UPLOAD_BYTES"),
    }
    return render(request, "web/imports/mapping_new.html", context, status=status)


@page("imports.view_columnmapping")
def mappings(request):
    rows = [
        {
            "mapping": m,
            "rules": [
                {"column": r.get("column", ""), "reads": rule_text(r)}
                for r in m.columns
                if isinstance(r, dict)
            ],
        }
        for m in services.list_mappings()
    ]
    return render(
        request,
        "web/imports/mappings.html",
        {
            "section": "imports",
            "rows": rows,
            "can_add": request.user.has_perm("imports.add_columnmapping"),
        },
    )
