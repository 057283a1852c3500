"""Dry run, per-row atomicity, all-or-nothing, idempotence and the audit trail."""

import pytest

from folio.accounts.models import AuditEntry
from folio.catalog.models import AttributeGroup, Category, Product, ProductChange, ValueIndex
from tests.imports.conftest import counts, problems, run_import, write

pytestmark = pytest.mark.django_db

GOOD_AND_BAD = (
    "sku;family;name-en_US;color;warranty_years\n"
    "A;bottles;Alpha;blue;\n"
    "B;bottles;Beta;mauve;\n"  # no such option
    "C;coffee_machines;Gamma;;11\n"  # above the maximum of 10
    "D;bottles;Delta;green;\n"
)


def test_dry_run_reports_every_problem_and_writes_nothing(catalog, tmp_path):
    folder = tmp_path / "import"
    write(folder / "categories.csv", "code;parent;label-en_US\nsummer;master;Summer\n")
    write(
        folder / "products.csv",
        "sku;family;categories;name-en_US;color;warranty_years\n"
        "A;bottles;summer;Alpha;blue;\n"  # needs the category the same import creates
        "B;bottles;summer;Beta;mauve;\n"
        "C;coffee_machines;;Gamma;;11\n",
    )
    audit_before = AuditEntry.objects.count()
    imp = run_import(folder, dry_run=True)
    found = {(p["file"], p["row"], p["column"], p["value"]) for p in problems(imp)}
    assert found == {
        ("products.csv", 3, "color", "mauve"),
        ("products.csv", 4, "warranty_years", "11"),
    }
    assert counts(imp, "categories.csv")["created"] == 1
    assert counts(imp, "products.csv")["created"] == 1
    assert imp.report.rolled_back
    assert not Product.objects.exists()
    assert not Category.objects.filter(code="summer").exists()
    assert not ValueIndex.objects.exists()
    assert AuditEntry.objects.count() == audit_before


def test_a_bad_row_is_skipped_and_the_others_written_whole(catalog, files):
    imp = run_import(files("products.csv", GOOD_AND_BAD))
    assert counts(imp)["created"] == 2 and counts(imp)["skipped"] == 2
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["A", "D"]
    # Nothing of the refused rows is anywhere: no index rows, no history.
    assert ProductChange.objects.filter(product__sku__in=["B", "C"]).count() == 0
    assert set(ValueIndex.objects.values_list("product__sku", flat=True)) == {"A", "D"}


def test_all_or_nothing_writes_nothing_when_a_row_fails(catalog, files):
    imp = run_import(files("products.csv", GOOD_AND_BAD), all_or_nothing=True)
    assert imp.report.rolled_back and imp.report.errors == 2
    assert not Product.objects.exists()
    good = GOOD_AND_BAD.replace("mauve", "green").replace(";11\n", ";2\n")
    imp = run_import(files("products2.csv", good), all_or_nothing=True)
    assert not imp.report.rolled_back
    assert Product.objects.count() == 4


def test_re_running_changes_nothing_and_leaves_no_trace(catalog, tmp_path):
    folder = tmp_path / "import"
    write(folder / "categories.csv", "code;parent;label-en_US\nsummer;master;Summer\n")
    write(
        folder / "product_models.csv",
        "code;family_variant;name-en_US\nR;bottles_by_size_color;Root\n",
    )
    write(folder / "products.csv", GOOD_AND_BAD.replace("mauve", "green").replace(";11", ";3"))
    first = run_import(folder)
    assert not problems(first), problems(first)
    history, audit = ProductChange.objects.count(), AuditEntry.objects.count()
    versions = dict(Product.objects.values_list("sku", "version"))
    again = run_import(folder)
    for f in again.report.files:
        assert f["unchanged"] == f["rows"] and f["created"] == f["updated"] == 0, f
    assert ProductChange.objects.count() == history
    assert AuditEntry.objects.count() == audit
    assert dict(Product.objects.values_list("sku", "version")) == versions


def test_writes_are_audited_as_the_importing_user(catalog, files, make_user):
    editor = make_user("catalog_editor")
    run_import(files("products.csv", "sku;family\nA;bottles\n"), user=editor)
    from folio.accounts.audit import acting_as

    with acting_as(editor, via="cli"):
        run_import(files("products2.csv", "sku;family;name-en_US\nB;bottles;B\n"), user=editor)
    entry = AuditEntry.objects.filter(action__startswith="product.").latest("id")
    assert entry.user == editor and entry.via == "cli"


def test_structure_files_are_a_catalog_managers(catalog, files, make_user):
    """A catalog editor imports products, not what shapes them: a structure file is reported,
    naming the roles that may import it, and not read; a catalog manager's import of it
    goes through."""
    text = "code;sort_order;label-en_US\ncare;5;Care\n"
    imp = run_import(files("attribute_groups.csv", text), user=make_user("catalog_editor"))
    [p] = problems(imp)
    assert "catalog.add_attributegroup" in p["reason"] and p["file"] == "attribute_groups.csv"
    assert "roles that may: Administrator, Catalog manager" in p["reason"]
    assert not AttributeGroup.objects.filter(code="care").exists()
    run_import(files("attribute_groups.csv", text), user=make_user("catalog_manager"))
    assert AttributeGroup.objects.get(code="care").labels == {"en_US": "Care"}


def test_a_role_that_may_not_write_products_is_refused(catalog, files, make_user):
    viewer = make_user("viewer")
    imp = run_import(files("products.csv", "sku;family\nA;bottles\n"), user=viewer)
    [p] = problems(imp)
    assert "catalog.add_product" in p["reason"]
    assert not Product.objects.exists()
