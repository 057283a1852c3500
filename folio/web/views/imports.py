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
from folio.errors import Conflict, FolioError, InvalidInput, StaleWrite
from folio.imports import services
from folio.imports.limits import limit
from folio.imports.models import ImportProblem, ImportRun
from folio.imports.sources import KINDS
from folio.jobs.services import get_job
from folio.web import nav
from folio.web.views.base import int_param, page, posted_version

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
        if rule.get("locale"):
            text += f" ({rule['locale']})"
    elif "association" in rule:
        text = _("association %(type)s to %(target)s") % {
            "type": rule["association"],
            "target": rule.get("target") or "products",
        }
        if rule.get("part") == "quantity":
            text += " · " + _("their quantities")
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


# The steps a column's cells can go through (folio.imports.transforms), in users' words.
STEP_OPS = (
    ("trim", gettext_lazy("trim spaces")),
    ("lower", gettext_lazy("lower case")),
    ("upper", gettext_lazy("upper case")),
    ("replace", gettext_lazy("replace text")),
    ("default", gettext_lazy("value for an empty cell")),
    ("decimal_comma", gettext_lazy("decimal comma (1.234,5)")),
    ("date", gettext_lazy("a date in a format")),
    ("split", gettext_lazy("split into a list")),
    ("map", gettext_lazy("map values (yours → ours)")),
    ("options_by_label", gettext_lazy("options by their labels")),
    ("unit", gettext_lazy("unit in the cell (500 ml)")),
    ("boolean", gettext_lazy("words for yes and no")),
)
STEP_PARAMS = (
    "old",
    "new",
    "value",
    "format",
    "separator",
    "values",
    "locale",
    "default_unit",
    "units",
    "true",
    "false",
)
ASSOCIATION_TARGETS = ("products", "product_models", "groups")


def _table_text(table: dict) -> str:
    return "\n".join(f"{k} = {v}" for k, v in (table or {}).items())


def _table_from(text: str, where: str, problems: list[str]) -> dict:
    """Lines of "yours = ours" → {"yours": "ours"}; the last = divides (a code has none)."""
    table = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        left, eq, right = line.rpartition("=")
        if not eq or not left.strip():
            problems.append(
                _("%(where)s, line %(n)s: %(line)s has no “=”; write one pair a line: a = b")
                % {"where": where, "n": n, "line": repr(line.strip())}
            )
            continue
        table[left.strip()] = right.strip()
    return table


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip()]


def _step_from_transform(t: dict) -> dict:
    """A transform as the step form shows it (the texts of its inputs)."""
    step = {"op": t.get("op", ""), "ignore_case": bool(t.get("ignore_case", True))}
    for key in ("old", "new", "value", "format", "separator", "locale", "default_unit"):
        step[key] = "" if t.get(key) is None else str(t[key])
    step["values"] = _table_text(t.get("values")) if isinstance(t.get("values"), dict) else ""
    step["units"] = _table_text(t.get("units")) if isinstance(t.get("units"), dict) else ""
    for key in ("true", "false"):
        step[key] = ", ".join(t[key]) if isinstance(t.get(key), list) else ""
    return step


def _transform_from_step(step: dict, where: str, problems: list[str]) -> dict:
    """A step of the form → a transform; what it leaves empty is left out (the mapping check
    then names what a step needs, e.g. replace needs 'old')."""
    op = step["op"]
    t: dict = {"op": op}
    if op == "replace":
        if step["old"]:
            t["old"] = step["old"]
        t["new"] = step["new"]
    elif op in ("default", "date", "split", "options_by_label"):
        key = {"default": "value", "date": "format", "split": "separator"}.get(op, "locale")
        if step[key]:
            t[key] = step[key]
    elif op == "map":
        t["values"] = _table_from(step["values"], where, problems)
        if not step["ignore_case"]:
            t["ignore_case"] = False
    elif op == "unit":
        if step["default_unit"]:
            t["default_unit"] = step["default_unit"]
        units = _table_from(step["units"], where, problems)
        if units:
            t["units"] = units
    elif op == "boolean":
        for key in ("true", "false"):
            if _words(step[key]):
                t[key] = _words(step[key])
    return t


def _choice_from_rule(rule: dict) -> dict:
    """A saved rule as the editor shows it."""
    if rule.get("ignore"):
        target = "ignore"
    elif "field" in rule:
        target = f"field:{rule['field']}"
    elif "attribute" in rule:
        target = f"attribute:{rule['attribute']}"
    elif "media" in rule:
        target = "media"
    elif "association" in rule:
        target = f"association:{rule['association']}"
    else:
        target = ""
    return {
        "target": target,
        "locale": rule.get("locale") or "",
        "channel": rule.get("channel") or rule.get("scope") or "",
        "currency": rule.get("currency") or "",
        "unit_column": rule.get("part") == "unit",
        "role": rule.get("media") or "",
        "assoc_target": rule.get("target") or "products",
        "quantity": rule.get("part") == "quantity",
        "steps": [
            _step_from_transform(t) for t in rule.get("transforms") or [] if isinstance(t, dict)
        ],
    }


def _choice_from_post(post, i: int) -> dict:
    steps = []
    for j in range(int_param(post.get(f"steps-{i}"), 0, low=0, high=50)):
        op = post.get(f"step-{i}-{j}-op", "")
        if not op:  # the empty slot, or a step taken out
            continue
        step = {key: post.get(f"step-{i}-{j}-{key}", "") for key in STEP_PARAMS}
        step["op"] = op
        # An unchecked box sends nothing: the hidden "shown" says the box was on the page.
        shown = post.get(f"step-{i}-{j}-shown") == "1"
        step["ignore_case"] = _flag(post.get(f"step-{i}-{j}-ignore_case")) or not shown
        steps.append(step)
    return {
        "target": post.get(f"target-{i}", ""),
        "locale": post.get(f"locale-{i}", ""),
        "channel": post.get(f"channel-{i}", ""),
        "currency": post.get(f"currency-{i}", ""),
        "unit_column": _flag(post.get(f"part-unit-{i}")),
        "role": post.get(f"role-{i}", "").strip(),
        "assoc_target": post.get(f"assoc-target-{i}", "") or "products",
        "quantity": _flag(post.get(f"quantity-{i}")),
        "steps": steps,
    }


def _rule_from_choice(header: str, choice: dict, problems: list[str]) -> dict | None:
    """The editor's choices for one column → its mapping rule (None: read as usual)."""
    target = choice["target"]
    if not target or not header:
        return None
    what, _sep, code = target.partition(":")
    rule: dict = {"column": header}
    if what == "ignore":
        rule["ignore"] = True
        return rule
    if what == "field":
        rule["field"] = code
    elif what == "attribute":
        rule["attribute"] = code
        for key in ("locale", "channel", "currency"):
            if choice[key]:
                rule[key] = choice[key]
        if choice["unit_column"]:
            rule["part"] = "unit"
    elif what == "media":
        rule["media"] = choice["role"]
        if choice["locale"]:
            rule["locale"] = choice["locale"]
    elif what == "association":
        rule["association"] = code
        rule["target"] = choice["assoc_target"]
        if choice["quantity"]:
            rule["part"] = "quantity"
    transforms = [
        _transform_from_step(
            step, _("Column %(col)s, step %(n)s") % {"col": header, "n": j + 1}, problems
        )
        for j, step in enumerate(choice["steps"])
    ]
    if transforms:
        rule["transforms"] = transforms
    return rule


def _rules_from(post, count: int) -> tuple[list[str], list[dict], list[dict]]:
    """The form's columns and choices → mapping rules, and the choices as made (to show the
    form again). A column left at "usual reading" is not in the mapping. Raises InvalidInput
    for what the form itself cannot read (a value table line without "=")."""
    header, rules, chosen, problems = [], [], [], []
    for i in range(count):
        name = post.get(f"col-{i}", "").strip()
        choice = _choice_from_post(post, i)
        header.append(name)
        chosen.append(choice)
        rule = _rule_from_choice(name, choice, problems)
        if rule is not None:
            rules.append(rule)
    if problems:
        raise InvalidInput(problems[0], details=[{"reason": p} for p in problems])
    return header, rules, chosen


def _options_from(form: dict) -> dict:
    options = {"kind": form["kind"]}
    if DELIMITERS.get(form["delimiter"]):
        options["delimiter"] = DELIMITERS[form["delimiter"]]
    for key in ("encoding", "sheet", "family"):
        if form.get(key):
            options[key] = form[key]
    if form["decimal_comma"]:
        options["decimal_comma"] = True
    return options


def _form_from_options(options: dict) -> dict:
    delimiter = {v: k for k, v in DELIMITERS.items() if k}.get(options.get("delimiter"), "")
    return {
        "kind": options.get("kind") or "products",
        "delimiter": delimiter,
        "encoding": options.get("encoding") or "",
        "sheet": options.get("sheet") or "",
        "family": options.get("family") or "",
        "decimal_comma": bool(options.get("decimal_comma")),
    }


def _mapping_form_from(post) -> dict:
    form = _form_from(post)
    form["kind"] = post.get("kind") if post.get("kind") == "product_models" else "products"
    form["family"] = post.get("family", "").strip()
    return form


def _problems_of(exc: FolioError) -> list[str]:
    details = exc.details if isinstance(exc.details, list) else []
    found = [d["reason"] for d in details if isinstance(d, dict) and "reason" in d]
    return found or [exc.message]


def _editor_context(form, meta, header, sample, chosen, errors, *, blank_rows=0) -> dict:
    """What the column editor shows: each column (and `blank_rows` empty ones to add a
    column by its heading) with an empty step slot to add a step."""
    from folio.catalog.models import AssociationType, Family
    from folio.imports.columns import FIELDS

    header = list(header) + [""] * blank_rows
    chosen = list(chosen) + [{}] * (len(header) - len(chosen))
    columns_, structure = _columns_context(header, sample, form["kind"], chosen)
    for c in columns_:
        c["new"] = c["index"] >= len(header) - blank_rows
        steps = list((c["chosen"] or {}).get("steps") or [])
        c["steps"] = [*steps, {"op": "", "ignore_case": True}]
        c["what"] = ((c["chosen"] or {}).get("target") or "").partition(":")[0]
        code = ((c["chosen"] or {}).get("target") or "").partition(":")[2]
        c["attribute"] = structure.attributes.get(code) if c["what"] == "attribute" else None
    return {
        "section": "imports",
        "form": form,
        "meta": meta,
        "columns": columns_,
        "errors": errors,
        "fields": FIELDS[form["kind"]],
        "attributes": sorted(structure.attributes.values(), key=lambda a: a.code),
        "association_types": list(AssociationType.objects.order_by("code")),
        "association_targets": ASSOCIATION_TARGETS,
        "families": list(Family.objects.order_by("code").values_list("code", flat=True)),
        "locales": sorted(structure.locales),
        "channels": sorted(structure.channels),
        "currencies": sorted(structure.currencies),
        "step_ops": STEP_OPS,
        "delimiters": [k for k in DELIMITERS if k],
        "max_upload_bytes": limit("MAX_UPLOAD_BYTES"),
    }


@page("imports.add_columnmapping", methods=("GET", "POST"))
def mapping_new(request):
    """Save a column mapping from a sample file: its columns are read and shown with how the
    importer reads them without a mapping; per column a select maps it to a field, an
    attribute (locale, channel, currency, or its unit column), media in a role or an
    association, or ignores it, and steps clean and convert its cells (every transform of
    folio.imports.transforms). "Show the steps' settings" posts the form back to show the
    inputs of what was chosen (no script). Saved through services.create_mapping, which
    checks every rule as POST /imports/mappings does."""
    post = request.POST
    form = _mapping_form_from(post)
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
                sample = [post.get(f"sample-{i}", "") for i in range(count)]
                header = [post.get(f"col-{i}", "") for i in range(count)]
                header, rules, chosen = _rules_from(post, count)
                if post.get("action") == "save":
                    services.create_mapping(
                        meta["name"],
                        description=meta["description"],
                        options=_options_from(form),
                        columns=rules,
                        user=request.user,
                    )
                    messages.success(request, _("Saved the mapping %(name)s.") % meta)
                    return redirect(reverse("web:import_mappings") + f"#mapping-{meta['name']}")
        except FolioError as exc:
            status = exc.status
            errors = _problems_of(exc)
            if not chosen and post.get("action") != "read":
                chosen = [_choice_from_post(post, i) for i in range(count)]
    context = _editor_context(form, meta, header, sample, chosen, errors)
    context["action_url"] = reverse("web:import_mapping_new")
    return render(request, "web/imports/mapping_new.html", context, status=status)


def _edit_page(
    request,
    m,
    *,
    form=None,
    meta=None,
    header=None,
    chosen=None,
    errors=(),
    status=200,
    version=None,
):
    """The mapping's page: its editor for users who may change it, what it says for others.
    Without `header`, the saved mapping as it is now (also after a stale save: 409)."""
    if header is None:
        rules = [r for r in m.columns if isinstance(r, dict)]
        header = [str(r.get("column", "")) for r in rules]
        chosen = [_choice_from_rule(r) for r in rules]
        form = _form_from_options(m.options or {})
        meta = {"name": m.name, "description": m.description}
    context = _editor_context(form, meta, header, [], chosen, list(errors), blank_rows=2)
    context.update(
        mapping=m,
        rules=[
            {"column": r.get("column", ""), "reads": rule_text(r)}
            for r in m.columns
            if isinstance(r, dict)
        ],
        can_change=request.user.has_perm("imports.change_columnmapping"),
        can_delete=request.user.has_perm("imports.delete_columnmapping"),
        action_url=reverse("web:import_mapping", args=[m.pk]),
        # The version the user started from, kept while the form is shown again.
        version=m.version if version is None else version,
    )
    return render(request, "web/imports/mapping_edit.html", context, status=status)


@page("imports.view_columnmapping", methods=("GET", "POST"))
def mapping_edit(request, mapping_id: int):
    """One saved mapping. Changed through services.update_mapping (as PATCH
    /api/v1/imports/mappings/{name}) with the version the form was read at: a save based on
    an older version changes nothing and shows the mapping as it is now (409)."""
    m = services.get_mapping_by_id(mapping_id)
    if request.method == "GET":
        return _edit_page(request, m)
    require(request.user, "imports.change_columnmapping")
    post = request.POST
    form = _mapping_form_from(post)
    meta = {"name": m.name, "description": post.get("description", "")}
    count = int_param(post.get("count"), 0, low=0, high=limit("MAX_COLUMNS"))
    header = [post.get(f"col-{i}", "") for i in range(count)]
    chosen = [_choice_from_post(post, i) for i in range(count)]
    try:
        header, rules, chosen = _rules_from(post, count)
        if post.get("action") == "save":
            services.update_mapping(
                m.name,
                expected_version=posted_version(post.get("version")),
                description=meta["description"],
                options=_options_from(form),
                columns=rules,
            )
            messages.success(request, _("Saved the mapping %(name)s.") % meta)
            return redirect(reverse("web:import_mapping", args=[m.pk]))
    except StaleWrite as exc:
        m.refresh_from_db()
        return _edit_page(request, m, errors=[_stale_text(exc)], status=409)
    except FolioError as exc:
        return _edit_page(
            request,
            m,
            form=form,
            meta=meta,
            header=[h for h, c in zip(header, chosen, strict=True) if h or c["target"]],
            chosen=[c for h, c in zip(header, chosen, strict=True) if h or c["target"]],
            errors=_problems_of(exc),
            status=exc.status,
            version=posted_version(post.get("version")),
        )
    # Shown again ("Show the settings"): the rows with a heading, and fresh empty ones.
    kept = [(h, c) for h, c in zip(header, chosen, strict=True) if h]
    return _edit_page(
        request,
        m,
        form=form,
        meta=meta,
        header=[h for h, _c in kept],
        chosen=[c for _h, c in kept],
        version=posted_version(post.get("version")),
    )


def _stale_text(exc) -> str:
    return (
        _(
            "Someone changed this mapping since you opened it; nothing was saved. "
            "It is shown as it is now: make your change again."
        )
        + f" ({exc.message})"
    )


@page("imports.delete_columnmapping", methods=("POST",))
def mapping_delete(request, mapping_id: int):
    """Through services.delete_mapping (as DELETE /api/v1/imports/mappings/{name}), with the
    version the page showed: a mapping changed meanwhile is shown again (409), not deleted.
    Runs made with it keep its name."""
    m = services.get_mapping_by_id(mapping_id)
    try:
        services.delete_mapping(
            m.name, expected_version=posted_version(request.POST.get("version"))
        )
    except StaleWrite as exc:
        m.refresh_from_db()
        return _edit_page(request, m, errors=[_stale_text(exc)], status=409)
    messages.success(request, _("Deleted the mapping %(name)s.") % {"name": m.name})
    return redirect(reverse("web:import_mappings"))


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
            "can_change": request.user.has_perm("imports.change_columnmapping"),
            "can_delete": request.user.has_perm("imports.delete_columnmapping"),
        },
    )
