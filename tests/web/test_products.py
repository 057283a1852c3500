"""The product grid, bulk edit, the product and product model pages, and creating products:
what each role sees, what the server refuses, and the services' messages next to the fields."""

import re

import pytest

from folio.catalog import services as catalog
from folio.catalog.models import Channel, Product, ProductModel, Proposal
from folio.jobs.models import Job
from folio.jobs.services import execute
from folio.web.models import SavedFilter
from tests.web.conftest import value


def html(response) -> str:
    return response.content.decode()


def grid_skus(response) -> list[str]:
    return re.findall(r'name="sku" value="([^"]+)"', html(response))


# --- the grid -------------------------------------------------------------------------------


def test_grid_search_facets_and_conditions(shop, client_for):
    client = client_for("viewer")
    every = client.get("/products/")
    assert grid_skus(every) == ["BT-750-BLUE", "BT-750-GREEN", "EP-3000"]
    page = html(every)
    assert "Bottles" in page or "bottles" in page  # the family facet
    assert re.search(r"<span>bottles</span><span class=\"count\">2</span>", page)

    assert grid_skus(client.get("/products/?q=EspressoPro")) == ["EP-3000"]
    assert grid_skus(client.get("/products/?family=bottles")) == ["BT-750-BLUE", "BT-750-GREEN"]
    assert grid_skus(client.get("/products/?filter=color+in+green")) == ["BT-750-GREEN"]
    assert grid_skus(client.get("/products/?category=kitchen")) == ["EP-3000"]
    complete = client.get("/products/?channel=marketplace&locale=en_US&complete=incomplete")
    assert set(grid_skus(complete)) == {"BT-750-BLUE", "BT-750-GREEN"}  # no short title

    wrong = client.get("/products/?filter=nonsense%3D%3D%3D")
    assert wrong.status_code == 200
    assert "cannot read the filter" in html(wrong) or "unknown attribute" in html(wrong)


def test_grid_suggests_a_sku_one_typo_away(shop, client_for):
    page = html(client_for("viewer").get("/products/?q=BT-750-BLEU"))
    assert "Did you mean" in page and 'href="/products/BT-750-BLUE/"' in page


def test_grid_columns_are_chosen_and_remembered(shop, client_for):
    client = client_for("viewer")
    chosen = html(client.get("/products/?col=capacity&col=color&col=completeness"))
    assert "750 ml" in chosen and "Blue" in chosen
    again = html(client.get("/products/"))
    assert "750 ml" in again  # the session remembers the columns
    header = again.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert "Capacity" in header and "Color" in header and "Family" not in header


def test_grid_query_count_does_not_grow_with_the_page(
    shop, client_for, django_assert_max_num_queries
):
    client = client_for("viewer")
    url = "/products/?col=name&col=capacity&col=family&col=parent&col=completeness&col=updated"
    client.get(url)  # warm the session and the content types
    with django_assert_max_num_queries(30) as few:
        client.get(url)
    for n in range(12):
        catalog.create_product(
            {"sku": f"BT-750-X{n}", "parent": "BT-750", "values": {"color": value("black")}}
        ) if n == 0 else catalog.create_product({"sku": f"EP-{n}", "family": "coffee_machines"})
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert len(grid_skus(response)) == 15


def test_saved_filters_are_personal(shop, client_for, users):
    cora = client_for("catalog_editor")
    response = cora.post(
        "/products/filters/", {"name": "Bottles", "query": "family=bottles", "area": "products"}
    )
    assert response.status_code == 302
    saved = SavedFilter.objects.get(user=users["catalog_editor"])
    assert (saved.name, saved.query) == ("Bottles", "family=bottles")
    assert 'href="?family=bottles">Bottles</a>' in html(cora.get("/products/"))
    vic = client_for("viewer")
    assert ">Bottles</a>" not in html(vic.get("/products/"))
    vic.post(f"/products/filters/{saved.pk}/delete/")
    assert SavedFilter.objects.filter(pk=saved.pk).exists()  # not vic's to delete
    cora.post(f"/products/filters/{saved.pk}/delete/")
    assert not SavedFilter.objects.filter(pk=saved.pk).exists()


# --- bulk edit -------------------------------------------------------------------------------


def test_bulk_edit_starts_a_job_that_changes_the_selection(shop, client_for):
    editor = client_for("catalog_editor")
    form = html(editor.get("/products/bulk-edit/?sku=BT-750-BLUE&sku=BT-750-GREEN"))
    assert "2 products selected" in form
    response = editor.post(
        "/products/bulk-edit/",
        {
            "sku": ["BT-750-BLUE", "BT-750-GREEN"],
            "op0": "set",
            "target0": "price",
            "value0": "19.90 USD",
            "op1": "disable",
        },
    )
    assert response.status_code == 200
    job = Job.objects.get(kind__endswith="bulk_edit")
    assert job.params["filter"] == {"skus": ["BT-750-BLUE", "BT-750-GREEN"]}
    assert f'hx-get="/jobs/{job.pk}/progress/"' in html(response)
    execute(str(job.pk), "test-worker")
    progress = html(editor.get(f"/jobs/{job.pk}/progress/"))
    assert "succeeded" in progress and "hx-trigger" not in progress  # stops polling
    # the same visibility as the API: roles without jobs.view_job see their own jobs only
    assert client_for("agency").get(f"/jobs/{job.pk}/progress/").status_code == 404
    blue = Product.objects.get(sku="BT-750-BLUE")
    assert not blue.enabled
    assert catalog.resolved_values(blue)["price"][0]["data"] == [
        {"amount": "19.9", "currency": "USD"}
    ]


def test_bulk_edit_names_the_wrong_operation_and_viewers_are_refused(shop, client_for):
    editor = client_for("catalog_editor")
    wrong = editor.post(
        "/products/bulk-edit/",
        {"sku": "BT-750-BLUE", "op0": "set", "target0": "color", "value0": "purple"},
    )
    assert wrong.status_code == 422
    assert "not an option of color" in html(wrong)
    assert 'id="op0-error"' in html(wrong)
    assert not Job.objects.filter(kind__endswith="bulk_edit").exists()
    viewer = client_for("viewer")
    assert "Start bulk edit" not in html(viewer.get("/products/bulk-edit/?sku=BT-750-BLUE"))
    refused = viewer.post("/products/bulk-edit/", {"sku": "BT-750-BLUE", "op0": "disable"})
    assert refused.status_code == 403
    assert not Job.objects.filter(kind__endswith="bulk_edit").exists()


# --- the product page --------------------------------------------------------------------------


def test_product_page_marks_inherited_values_and_navigates_variants(shop, client_for):
    page = html(client_for("catalog_editor").get("/products/BT-750-BLUE/?channel=ecommerce"))
    # brand is the root model's, capacity the sub-model's, colour the variant's own
    brand = page.split('id="attr-brand"', 1)[1].split('class="attr-label', 1)[0]
    assert "inherited from" in brand and 'href="/models/BT/"' in brand
    capacity = page.split('id="attr-capacity"', 1)[1].split('class="attr-label', 1)[0]
    assert "750 ml" in capacity and 'href="/models/BT-750/"' in capacity
    assert 'name="v.color"' in page and 'name="v.gtin"' in page
    assert 'name="v.brand"' not in page  # edited on the model
    tree = page.split('aria-labelledby="variants-h"', 1)[1].split("</nav>", 1)[0]
    assert "BT-750-GREEN" in tree and 'aria-current="page">BT-750-BLUE' in tree
    # completeness links each missing value to its field in the right channel and locale:
    # the variant's own price here, the root model's name there
    assert 'href="/products/BT-750-BLUE/?channel=ecommerce&amp;locale=de_DE#attr-price"' in page
    assert 'href="/models/BT/?channel=ecommerce&amp;locale=de_DE#attr-name"' in page


def test_viewer_sees_no_edit_controls_and_is_refused(shop, client_for):
    viewer = client_for("viewer")
    page = html(viewer.get("/products/BT-750-BLUE/"))
    assert 'name="v.' not in page and "Save changes" not in page
    assert "Restore this version" not in page and 'id="picker"' not in page
    before = Product.objects.get(sku="BT-750-BLUE").version
    refused = viewer.post(
        "/products/BT-750-BLUE/", {"version": before, "present": "gtin", "v.gtin": ""}
    )
    assert refused.status_code == 403
    assert viewer.post("/products/BT-750-BLUE/restore/", {"version": 1}).status_code == 403
    assert Product.objects.get(sku="BT-750-BLUE").version == before


def test_edit_saves_only_what_changed_and_history_restores(shop, client_for):
    editor = client_for("catalog_editor")
    product = Product.objects.get(sku="EP-3000")
    response = editor.post(
        "/products/EP-3000/?channel=marketplace&locale=en_US",
        {
            "version": product.version,
            "present": ["name", "warranty_years", "short_title", "power"],
            "v.name": "EspressoPro 3000 Plus",
            "v.warranty_years": "2",  # unchanged
            "v.short_title": "EspressoPro 3000 Automatic Coffee Machine",  # unchanged
            "v.power.amount": "1450",
            "v.power.unit": "WATT",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/products/EP-3000/?channel=marketplace&locale=en_US"
    product.refresh_from_db()
    assert product.version == 2
    [change] = product.history.filter(version=2)
    assert [(c["attribute"], c["locale"]) for c in change.changes] == [("name", "en_US")]
    page = html(editor.get("/products/EP-3000/"))
    assert "<del>" in page and "EspressoPro 3000 Plus" in page
    assert "Restore this version" in page
    restored = editor.post("/products/EP-3000/restore/", {"version": 1, "current": 2})
    assert restored.status_code == 302
    product.refresh_from_db()
    assert product.version == 3
    name = catalog.resolved_values(product)["name"]
    assert {"locale": "en_US", "scope": None, "data": "EspressoPro 3000"} in name


def test_invalid_values_come_back_next_to_their_fields(shop, client_for):
    editor = client_for("catalog_editor")
    product = Product.objects.get(sku="EP-3000")
    response = editor.post(
        "/products/EP-3000/",
        {
            "version": product.version,
            "present": ["warranty_years", "manual_url"],
            "v.warranty_years": "12",
            "v.manual_url": "not a url",
        },
    )
    assert response.status_code == 422
    page = html(response)
    warranty = page.split('id="attr-warranty_years"', 1)[1].split('class="attr-label', 1)[0]
    assert 'aria-invalid="true"' in warranty and 'value="12"' in warranty
    assert re.search(r'class="field-error"[^>]*>[^<]*10', warranty)
    manual = page.split('id="attr-manual_url"', 1)[1].split('class="attr-label', 1)[0]
    assert "field-error" in manual and 'value="not a url"' in manual
    product.refresh_from_db()
    assert product.version == 1


def test_a_stale_edit_is_refused_with_a_reload_link(shop, client_for):
    editor = client_for("catalog_editor")
    catalog.update_product("EP-3000", {"enabled": False})
    response = editor.post(
        "/products/EP-3000/", {"version": 1, "present": ["brand"], "v.brand": "Other brand"}
    )
    assert response.status_code == 409
    assert "changed by someone else" in html(response) and "Reload it" in html(response)


def test_under_review_a_change_becomes_a_proposal(shop, client_for):
    Channel.objects.filter(code="ecommerce").update(requires_review=True)
    editor = client_for("catalog_editor")
    response = editor.post(
        "/products/EP-3000/",
        {"version": 1, "present": ["brand"], "v.brand": "Espresso Co"},
        follow=True,
    )
    assert "awaits review" in html(response)
    assert Proposal.objects.filter(product__sku="EP-3000", status="pending").count() == 1
    assert Product.objects.get(sku="EP-3000").version == 1


def test_product_page_query_count_is_bounded(shop, client_for, django_assert_max_num_queries):
    client = client_for("catalog_editor")
    client.get("/products/BT-750-BLUE/")
    with django_assert_max_num_queries(75):
        client.get("/products/BT-750-BLUE/")


# --- models and creating ---------------------------------------------------------------------


def test_model_page_edits_shared_values(shop, client_for):
    editor = client_for("catalog_editor")
    page = html(editor.get("/models/BT/"))
    assert 'name="v.brand"' in page and 'name="v.color"' not in page
    assert "Add sub-model" in page
    model = ProductModel.objects.get(code="BT")
    response = editor.post(
        "/models/BT/", {"version": model.version, "present": ["brand"], "v.brand": "Aqualine Pro"}
    )
    assert response.status_code == 302
    blue = Product.objects.get(sku="BT-750-BLUE")
    assert catalog.resolved_values(blue)["brand"][0]["data"] == "Aqualine Pro"
    assert client_for("viewer").post("/models/BT/", {"present": "brand"}).status_code == 403


def test_create_a_model_a_sub_model_and_a_variant(shop, client_for):
    editor = client_for("catalog_editor")
    root = editor.post(
        "/models/new/", {"code": "TB", "kind": "root", "family_variant": "bottles_by_size_color"}
    )
    assert root.status_code == 302 and root["Location"] == "/models/TB/"
    axes = html(editor.get("/products/new/axes/?parent=TB&level=1"))
    assert 'name="v.size"' in axes
    sub = editor.post(
        "/models/new/", {"code": "TB-500", "kind": "sub", "parent": "TB", "v.size": "ml500"}
    )
    assert sub.status_code == 302
    missing_axis = editor.post(
        "/products/new/", {"sku": "TB-500-RED", "kind": "variant", "parent": "TB-500"}
    )
    assert missing_axis.status_code == 422
    assert "variant axis" in html(missing_axis)
    variant = editor.post(
        "/products/new/",
        {"sku": "TB-500-GREEN", "kind": "variant", "parent": "TB-500", "v.color": "green"},
    )
    assert variant.status_code == 302 and variant["Location"] == "/products/TB-500-GREEN/"
    product = Product.objects.get(sku="TB-500-GREEN")
    assert product.parent.code == "TB-500" and product.family.code == "bottles"
    tree = html(editor.get("/models/TB/"))
    assert "TB-500-GREEN" in tree


def test_create_a_product_of_its_own_and_refuse_a_taken_sku(shop, client_for):
    editor = client_for("catalog_editor")
    created = editor.post(
        "/products/new/", {"sku": "EP-4000", "kind": "simple", "family": "coffee_machines"}
    )
    assert created.status_code == 302
    taken = editor.post("/products/new/", {"sku": "EP-4000", "kind": "simple"})
    assert taken.status_code == 422
    assert 'id="sku-error"' in html(taken) and "exists already" in html(taken)
    assert client_for("viewer").get("/products/new/").status_code == 403
    assert client_for("viewer").post("/products/new/", {"sku": "X-1"}).status_code == 403
    assert not Product.objects.filter(sku="X-1").exists()


@pytest.mark.parametrize("role", ["viewer", "asset_manager"])
def test_roles_without_catalog_writes_see_no_create_buttons(shop, client_for, role):
    page = html(client_for(role).get("/products/"))
    assert "New product" not in page and "Bulk edit selected" not in page
