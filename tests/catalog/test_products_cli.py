"""`folio products …` and `folio proposals …`: in-process through call_command, and as a real
`folio` process for exit codes and streamed files."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from folio.catalog import services
from folio.catalog.models import Channel, Product, ProductChange, Proposal
from folio.jobs.models import Job
from folio.jobs.worker import Worker
from tests.conftest import run_folio
from tests.fixtures.catalog import espresso_pro


def folio(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def bottle(sku, **extra):
    return {
        "sku": sku,
        "family": "bottles",
        "categories": ["drinkware"],
        "values": {
            "name": [{"locale": "en_US", "scope": None, "data": f"Bottle {sku}"}],
            "capacity": [
                {"locale": None, "scope": None, "data": {"amount": "750", "unit": "MILLILITER"}}
            ],
        },
        **extra,
    }


@pytest.mark.django_db
def test_list_filters_and_json(catalog):
    list(
        services.bulk_upsert(
            [espresso_pro(), bottle("WB-1"), bottle("WB-2", enabled=False), bottle("WB-3")]
        )
    )
    out, _ = folio("products", "list")
    assert [line.split()[0] for line in out.splitlines()] == ["EP-3000", "WB-1", "WB-2", "WB-3"]
    out, _ = folio("products", "list", "--family", "bottles", "--enabled-only")
    assert [line.split()[0] for line in out.splitlines()] == ["WB-1", "WB-3"]
    out, _ = folio("products", "list", "--filter", "capacity>=0.5 L", "--category", "master")
    assert [line.split()[0] for line in out.splitlines()] == ["WB-1", "WB-2", "WB-3"]
    out, err = folio("products", "list", "--limit", "2", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["sku"] for r in rows] == ["EP-3000", "WB-1"]
    assert rows[0]["values"]["power"][0]["data"] == {"amount": "1450", "unit": "WATT"}
    assert "2 of 4 products shown" in err
    with pytest.raises(CommandError, match="unknown attribute 'colour'"):
        folio("products", "list", "--filter", "colour=blue")


@pytest.mark.django_db
def test_show_history_restore_delete(catalog):
    services.create_product(espresso_pro())
    services.update_product(
        "EP-3000", {"values": {"warranty_years": [{"locale": None, "scope": None, "data": 3}]}}
    )
    out, _ = folio("products", "show", "EP-3000")
    assert "EP-3000  family coffee_machines  version 2  enabled" in out
    assert "categories: coffee" in out
    assert "power" in out and "1450 WATT" in out
    assert "price" in out and "749 EUR, 799 USD" in out
    assert "short_title[en_US@marketplace]" in out
    assert "ecommerce        de_DE   50%  2/4  missing: description, name" in out
    data = json.loads(folio("products", "show", "EP-3000", "--json")[0])
    assert data["origins"]["power"] == "self"
    assert {(c["channel"], c["locale"]) for c in data["completeness"]} >= {("ecommerce", "en_US")}

    out, _ = folio("products", "history", "EP-3000")
    assert out.splitlines()[0].startswith("v2")
    assert "warranty_years: 2 → 3" in out
    out, _ = folio("products", "restore", "EP-3000", "1")
    assert "restored EP-3000 to version 1 (now version 3)" in out
    assert Product.objects.get(sku="EP-3000").values["warranty_years"][0]["data"] == "2"
    with pytest.raises(CommandError, match="cannot restore 9"):
        folio("products", "restore", "EP-3000", "9")
    out, _ = folio("products", "delete", "EP-3000")
    assert out.strip() == "deleted EP-3000"
    with pytest.raises(CommandError, match="no product with SKU 'EP-3000'"):
        folio("products", "show", "EP-3000")


@pytest.mark.django_db
def test_upsert_streams_a_file_and_reports_lines(catalog, tmp_path, make_user):
    editor = make_user("catalog_editor", "eddie")
    path = tmp_path / "products.ndjson"
    lines = [
        json.dumps(bottle("WB-1")),
        "",
        "{not json",
        json.dumps(bottle("WB-2", family="nope")),
        json.dumps(espresso_pro()),
    ]
    path.write_text("\n".join(lines) + "\n")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="2 line"):
        call_command("products", "upsert", str(path), "--as-user", "eddie", stdout=out, stderr=err)
    assert "created 2, updated 0, unchanged 0, errors 2" in out.getvalue()
    assert "line 3: not JSON" in err.getvalue()
    assert "line 4 (WB-2): " in err.getvalue() and "unknown family" in err.getvalue()
    assert ProductChange.objects.get(product__sku="WB-1").username == editor.username
    assert ProductChange.objects.get(product__sku="WB-1").via == "cli"

    path.write_text(json.dumps(bottle("WB-1")) + "\n" + json.dumps(bottle("WB-3")) + "\n")
    out, _ = folio("products", "upsert", str(path))
    assert "created 1, updated 0, unchanged 1, errors 0" in out
    with pytest.raises(CommandError, match="cannot read"):
        folio("products", "upsert", str(tmp_path / "missing.ndjson"))


@pytest.mark.django_db(transaction=True)
def test_bulk_edit_starts_a_job_the_worker_runs(catalog, make_user):
    make_user("catalog_editor", "eddie")
    list(services.bulk_upsert([bottle("WB-1"), bottle("WB-2"), espresso_pro()]))
    out, err = folio(
        "products",
        "bulk-edit",
        "--sku",
        "WB-1",
        "--sku",
        "WB-2",
        "--sku",
        "EP-3000",
        "--add",
        "materials=glass",
        "--set",
        "color=blue",
        "--set",
        "capacity=1 L",
        "--add-group",
        "winter_collection",
        "--disable",
        "--no-wait",
        "--as-user",
        "eddie",
    )
    job = Job.objects.get(pk=out.strip())
    assert "Bulk edit of 3 products" in err
    assert [op.get("attribute") or op.get("field") for op in job.params["operations"]] == [
        "materials",
        "color",
        "capacity",
        "groups",
        "enabled",
    ]
    Worker(batch=True, heartbeat_seconds=60).run()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert (job.items_ok, job.items_failed) == (2, 1)
    wb = Product.objects.get(sku="WB-1")
    assert wb.enabled is False and wb.values["capacity"][0]["data"]["unit"] == "LITER"
    assert wb.history.first().username == "eddie"
    assert job.errors[0]["sku"] == "EP-3000"

    with pytest.raises(CommandError, match="not an option of color"):
        folio("products", "bulk-edit", "--family", "bottles", "--set", "color=purple")
    with pytest.raises(CommandError, match="at least one operation"):
        folio("products", "bulk-edit", "--family", "bottles")
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_proposals_list_approve_reject(catalog, make_user):
    Channel.objects.filter(code="ecommerce").update(requires_review=True)
    editor = make_user("catalog_editor", "eddie")
    make_user("catalog_reviewer", "rita")
    services.create_product(espresso_pro())
    for data in ("Acme", "Bad"):
        services.update_product(
            "EP-3000",
            {"values": {"brand": [{"locale": None, "scope": None, "data": data}]}},
            user=editor,
        )
    first, second = Proposal.objects.order_by("pk")
    out, _ = folio("proposals", "list")
    assert f"{first.pk}" in out and "EP-3000" in out and "brand" in out
    with pytest.raises(CommandError, match="--as-user"):
        folio("proposals", "approve", str(first.pk))
    out, _ = folio("proposals", "approve", str(first.pk), "--as-user", "rita")
    assert out.strip() == f"approved proposal {first.pk} for EP-3000"
    assert Product.objects.get(sku="EP-3000").values["brand"][0]["data"] == "Acme"
    out, _ = folio("proposals", "reject", str(second.pk), "--comment", "typo", "--as-user", "rita")
    assert "rejected" in out
    with pytest.raises(CommandError, match="rejected already"):
        folio("proposals", "reject", str(second.pk), "--comment", "x", "--as-user", "rita")
    out, _ = folio("proposals", "list", "--status", "rejected")
    assert str(second.pk) in out


def test_real_process_exit_codes_and_waiting_bulk_edit(catalog, folio_env, tmp_path):
    path = tmp_path / "in.ndjson"
    path.write_text(json.dumps(bottle("WB-1")) + "\n" + json.dumps(bottle("WB-2")) + "\n")
    done = run_folio(["products", "upsert", str(path)], folio_env)
    assert done.returncode == 0, done.stderr
    assert "created 2, updated 0, unchanged 0, errors 0" in done.stdout
    assert "upserting products: 2 done" in done.stderr

    path.write_text(json.dumps(bottle("WB-3", family="nope")) + "\n")
    failed = run_folio(["products", "upsert", str(path)], folio_env)
    assert failed.returncode == 1
    assert "line 1 (WB-3): " in failed.stderr and "Traceback" not in failed.stderr

    missing = run_folio(["products", "show", "NOPE"], folio_env)
    assert missing.returncode == 1 and "no product with SKU 'NOPE'" in missing.stderr

    # With jobs run inline the command waits for the job and reports its outcome.
    env = {**folio_env, "FOLIO_JOB_BACKEND": "immediate"}
    edited = run_folio(["products", "bulk-edit", "--family", "bottles", "--set", "brand=Aqua"], env)
    assert edited.returncode == 0, edited.stderr
    assert "updated 2, proposed 0, unchanged 0, failed 0" in edited.stdout
    assert Product.objects.filter(values__brand__isnull=False).count() == 2

    bad = run_folio(["products", "bulk-edit", "--sku", "WB-1", "--set", "power=5 W"], env)
    assert bad.returncode == 1
    assert "WB-1:" in bad.stderr and "not an attribute of this product's family" in bad.stderr
