"""The Structure pages: attributes with options, attribute groups, families with their
requirements per channel, family variants, categories, channels, locales and currencies.

Real database, real services: what a page saves is read back through the API and the models;
what a viewer sees and is refused; stale writes answered with 409 and the current state; list
pages whose query count does not grow with the catalog."""

import re

import pytest

from folio.catalog import services as catalog_services
from folio.catalog import structure
from folio.catalog.jobs import recompute_completeness
from folio.catalog.models import (
    Attribute,
    AttributeOption,
    Category,
    Channel,
    Completeness,
    Currency,
    Family,
    FamilyVariant,
    Locale,
)
from folio.jobs.models import Job
from folio.jobs.services import execute
from tests.fixtures.catalog import espresso_pro


def html(response) -> str:
    return response.content.decode()


def field_error(page: str, field_id: str) -> str:
    """The inline message a form shows for one field (its id + "-err")."""
    found = re.search(rf'id="{field_id}-err">([^<]+)<', page)
    assert found, f"no inline error for {field_id}"
    return found.group(1)


# --- reading ----------------------------------------------------------------------------------


def test_every_structure_page_reads_for_a_viewer_without_edit_controls(catalog, client_for):
    viewer = client_for("viewer")
    home = html(viewer.get("/"))
    assert 'href="/structure/"' in home  # the main navigation has the area
    pages = [
        "/structure/",
        "/structure/attributes/",
        "/structure/attributes/color/",
        "/structure/attributes/color/options/blue/",
        "/structure/attribute-groups/",
        "/structure/attribute-groups/general/",
        "/structure/families/",
        "/structure/families/bottles/",
        "/structure/family-variants/",
        "/structure/family-variants/bottles_by_size_color/",
        "/structure/categories/",
        "/structure/categories/kitchen/",
        "/structure/channels/",
        "/structure/channels/ecommerce/",
        "/structure/locales/",
    ]
    # The layout's own forms (signing out, language) are on every page; the index has no other.
    layout_forms = html(viewer.get("/structure/")).count('method="post"')
    for url in pages:
        response = viewer.get(url)
        assert response.status_code == 200, url
        page = html(response)
        assert page.count('method="post"') == layout_forms, url
    assert "Capacity" in html(viewer.get("/structure/attributes/"))
    family = html(viewer.get("/structure/families/bottles/"))
    assert "Required per channel" in family and 'name="req_ecommerce"' not in family
    # the create pages are refused outright
    for url in (
        "/structure/new/attribute/",
        "/structure/new/family/",
        "/structure/new/family-variant/",
        "/structure/new/channel/",
    ):
        assert viewer.get(url).status_code == 403, url


def structure_posts() -> list[tuple[str, dict]]:
    """A write to every kind of structure object, categories included."""
    bottles = Family.objects.get(code="bottles")
    return [
        ("/structure/new/attribute/", {"code": "fabric", "type": "text"}),
        ("/structure/attributes/brand/", {"label_en_US": "Maker", "version": 1}),
        ("/structure/attributes/color/", {"action": "add_option", "code": "red"}),
        ("/structure/attributes/color/options/blue/", {"label_en_US": "Navy"}),
        ("/structure/attributes/color/options/blue/", {"action": "delete"}),
        ("/structure/attribute-groups/", {"code": "care"}),
        ("/structure/attribute-groups/general/", {"label_en_US": "X"}),
        ("/structure/new/family/", {"code": "lamps"}),
        (
            "/structure/families/bottles/",
            {"action": "requirements", "version": bottles.version, "req_ecommerce": ["name"]},
        ),
        ("/structure/family-variants/bottles_by_size_color/", {"label_en_US": "X"}),
        ("/structure/categories/", {"code": "outlet"}),
        ("/structure/categories/kitchen/", {"action": "add_child", "code": "tea"}),
        ("/structure/categories/kitchen/", {"label_en_US": "Cooking"}),
        ("/structure/new/channel/", {"code": "shop2", "locales": ["en_US"]}),
        ("/structure/channels/ecommerce/", {"kind": "print", "locales": ["en_US"]}),
        ("/structure/locales/", {"kind": "locale", "action": "create", "code": "pt_BR"}),
        ("/structure/locales/", {"kind": "currency", "action": "delete", "code": "EUR"}),
    ]


def test_viewer_posts_are_refused_and_change_nothing(catalog, client_for):
    viewer = client_for("viewer")
    for url, data in structure_posts():
        assert viewer.post(url, data).status_code == 403, url
    assert not Attribute.objects.filter(code="fabric").exists()
    assert Attribute.objects.get(code="brand").labels == {"en_US": "Brand"}
    assert not AttributeOption.objects.filter(code="red").exists()
    assert AttributeOption.objects.filter(attribute__code="color", code="blue").exists()
    assert structure.family_requirements(Family.objects.get(code="bottles"))["ecommerce"] != [
        "name"
    ]
    assert not Category.objects.filter(code__in=["outlet", "tea"]).exists()
    assert Channel.objects.get(code="ecommerce").kind == "webshop"
    assert not Locale.objects.filter(code="pt_BR").exists()
    assert Currency.objects.filter(code="EUR").exists()


def test_a_catalog_editor_reads_the_structure_and_edits_only_categories(catalog, client_for):
    """The structure shapes every product and feed: a catalog manager's. An editor sees it
    without edit controls, is refused its writes, and keeps the category tree."""
    editor = client_for("catalog_editor")
    family = html(editor.get("/structure/families/bottles/"))
    assert "Required per channel" in family and 'name="req_ecommerce"' not in family
    assert 'value="add_option"' not in html(editor.get("/structure/attributes/color/"))
    assert editor.get("/structure/new/attribute/").status_code == 403
    for url, data in structure_posts():
        if not url.startswith("/structure/categories/"):
            assert editor.post(url, data).status_code == 403, url
    assert not Attribute.objects.filter(code="fabric").exists()
    assert Channel.objects.get(code="ecommerce").kind == "webshop"
    added = editor.post("/structure/categories/kitchen/", {"action": "add_child", "code": "tea"})
    assert added.status_code == 302
    assert Category.objects.get(code="tea").path == "master/kitchen/tea"


# --- attributes and options -------------------------------------------------------------------


def test_create_and_edit_an_attribute_and_its_options(catalog, client_for, api_client):
    manager = client_for("catalog_manager")
    form = html(manager.get("/structure/new/attribute/"))
    assert 'for="a-code"' in form and 'for="a-label-de_DE"' in form
    created = manager.post(
        "/structure/new/attribute/",
        {
            "code": "fabric",
            "type": "select",
            "label_en_US": "Fabric",
            "label_de_DE": "Stoff",
            "group": "technical",
            "sort_order": "4",
        },
    )
    assert created.status_code == 302
    assert created["Location"] == "/structure/attributes/fabric/"
    fabric = Attribute.objects.get(code="fabric")
    assert (fabric.type, fabric.group.code, fabric.sort_order) == ("select", "technical", 4)
    assert fabric.labels == {"de_DE": "Stoff", "en_US": "Fabric"}

    page = html(manager.get("/structure/attributes/fabric/"))
    assert "Add an option" in page and 'name="version" value="1"' in page
    added = manager.post(
        "/structure/attributes/fabric/",
        {"action": "add_option", "code": "cotton", "label_en_US": "Cotton"},
    )
    assert added.status_code == 302
    manager.post(
        "/structure/attributes/fabric/",
        {"action": "add_option", "code": "linen", "label_en_US": "Linen", "sort_order": "7"},
    )
    # a taken option code comes back next to the code field
    again = manager.post(
        "/structure/attributes/fabric/", {"action": "add_option", "code": "cotton"}
    )
    assert again.status_code == 409
    assert "cotton exist already" in html(again)
    # edit an option
    edited = manager.post(
        "/structure/attributes/fabric/options/cotton/",
        {"action": "save", "label_en_US": "Organic cotton", "label_de_DE": "Baumwolle"},
    )
    assert edited.status_code == 302
    # edit the attribute's settings (labels replaced whole: a cleared one is removed)
    saved = manager.post(
        "/structure/attributes/fabric/",
        {
            "action": "settings",
            "version": "1",
            "label_en_US": "Material",
            "label_de_DE": "",
            "group": "general",
            "sort_order": "2",
        },
    )
    assert saved.status_code == 302

    api = api_client("viewer")
    body = api.get("/api/v1/catalog/attributes/fabric").json()
    assert body["labels"] == {"en_US": "Material"} and body["group"] == "general"
    assert body["version"] == 2
    options = api.get("/api/v1/catalog/attributes/fabric/options").json()["results"]
    assert [(o["code"], o["labels"]) for o in options] == [
        ("cotton", {"de_DE": "Baumwolle", "en_US": "Organic cotton"}),
        ("linen", {"en_US": "Linen"}),
    ]
    shown = html(manager.get("/structure/attributes/fabric/"))
    assert "Organic cotton" in shown and "Baumwolle" in shown


def test_a_refused_setting_is_named_next_to_its_field(catalog, client_for):
    manager = client_for("catalog_manager")
    name = Attribute.objects.get(code="name")
    response = manager.post(
        "/structure/attributes/name/",
        {
            "version": name.version,
            "label_en_US": "Product name",
            "sort_order": "0",
            "max_length": "9999",
            "text_rule": "",
            "regex": "",
        },
    )
    assert response.status_code == 422
    page = html(response)
    assert "between 1 and 255" in field_error(page, "a-max")
    assert 'value="9999"' in page and 'value="Product name"' in page  # kept as typed
    assert Attribute.objects.get(code="name").max_length == 120
    # on creation: a measurement without its family
    created = manager.post("/structure/new/attribute/", {"code": "depth", "type": "measurement"})
    assert created.status_code == 422
    assert "measurement family" in field_error(html(created), "a-mf")
    bad_code = manager.post("/structure/new/attribute/", {"code": "my code", "type": "text"})
    assert "letters, digits and underscores" in field_error(html(bad_code), "a-code")


def test_a_stale_attribute_edit_answers_409_with_the_current_state(catalog, client_for):
    manager = client_for("catalog_manager")
    brand = Attribute.objects.get(code="brand")
    seen = brand.version
    structure.update_attribute("brand", labels={"en_US": "Maker"})  # someone else, meanwhile
    response = manager.post(
        "/structure/attributes/brand/",
        {"version": seen, "label_en_US": "Brand name", "sort_order": "0"},
    )
    assert response.status_code == 409
    page = html(response)
    assert "Someone else saved this" in page
    assert 'value="Maker"' in page  # the current label, not the one typed
    assert f'name="version" value="{seen + 1}"' in page
    assert Attribute.objects.get(code="brand").labels == {"en_US": "Maker"}


# --- families ---------------------------------------------------------------------------------


def test_requirement_change_reaches_completeness_and_the_api(catalog, client_for, api_client):
    catalog_services.create_product(espresso_pro())

    def row():
        return Completeness.objects.get(
            product__sku="EP-3000", channel__code="ecommerce", locale__code="en_US"
        )

    assert row().ratio == 100
    manager = client_for("catalog_manager")
    machines = Family.objects.get(code="coffee_machines")
    page = html(manager.get("/structure/families/coffee_machines/"))
    assert 'for="req-ecommerce-manual_url"' in page  # every checkbox has its label
    current = structure.family_requirements(machines, all_channels=True)
    response = manager.post(
        "/structure/families/coffee_machines/",
        {
            "action": "requirements",
            "version": machines.version,
            "req_ecommerce": [*current["ecommerce"], "manual_url"],
            "req_marketplace": current["marketplace"],
        },
    )
    assert response.status_code == 302
    requirements = api_client("viewer").get("/api/v1/catalog/families/coffee_machines/requirements")
    assert "manual_url" in requirements.json()["requirements"]["ecommerce"]
    assert "manual_url" not in requirements.json()["requirements"]["marketplace"]
    assert row().stale  # flagged in the same transaction as the change
    job = Job.objects.get(kind=recompute_completeness.job_name)
    execute(str(job.pk), "test-worker")
    # The recomputed row rewritten whole: EP-3000 has no manual_url, so it is missing.
    assert "manual_url" not in espresso_pro()["values"]
    recomputed = row()
    assert not recomputed.stale and recomputed.ratio < 100
    assert "manual_url" in str(recomputed.missing)


def test_add_an_attribute_to_a_family_and_edit_its_settings(catalog, client_for):
    admin = client_for("admin")
    bottles = Family.objects.get(code="bottles")
    added = admin.post(
        "/structure/families/bottles/",
        {
            "action": "attributes",
            "version": bottles.version,
            "attributes": list(bottles.attributes.values_list("code", flat=True)),
            "add": "manual_url, release_date",
        },
    )
    assert added.status_code == 302
    codes = set(Family.objects.get(code="bottles").attributes.values_list("code", flat=True))
    assert {"manual_url", "release_date"} <= codes
    bottles.refresh_from_db()
    unknown = admin.post(
        "/structure/families/bottles/",
        {"action": "attributes", "version": bottles.version, "attributes": ["name"], "add": "nope"},
    )
    assert unknown.status_code == 422
    assert "no attribute nope" in field_error(html(unknown), "fa")
    settings = admin.post(
        "/structure/families/bottles/",
        {
            "action": "settings",
            "version": bottles.version,
            "label_en_US": "Water bottles",
            "label_attribute": "brand",
            "requires_review": "on",
        },
    )
    assert settings.status_code == 302
    bottles.refresh_from_db()
    assert (bottles.labels, bottles.label_attribute.code, bottles.requires_review) == (
        {"en_US": "Water bottles"},
        "brand",
        True,
    )
    created = admin.post(
        "/structure/new/family/",
        {"code": "lamps", "label_en_US": "Lamps", "attributes": "name brand"},
    )
    assert created["Location"] == "/structure/families/lamps/"
    assert sorted(Family.objects.get(code="lamps").attributes.values_list("code", flat=True)) == [
        "brand",
        "name",
    ]


def test_a_stale_requirement_change_answers_409(catalog, client_for):
    manager = client_for("catalog_manager")
    machines = Family.objects.get(code="coffee_machines")
    seen = machines.version
    structure.update_family("coffee_machines", labels={"en_US": "Espresso machines"})
    response = manager.post(
        "/structure/families/coffee_machines/",
        {"action": "requirements", "version": seen, "req_ecommerce": ["name"]},
    )
    assert response.status_code == 409
    page = html(response)
    assert "Someone else saved this" in page and "Espresso machines" in page
    assert f'name="version" value="{seen + 1}"' in page
    # the current requirements are shown, not the ones posted
    assert 'name="req_ecommerce" value="power" checked' in page
    assert (
        "power"
        in structure.family_requirements(Family.objects.get(code="coffee_machines"))["ecommerce"]
    )


# --- family variants --------------------------------------------------------------------------


def test_create_and_edit_a_family_variant(catalog, client_for):
    manager = client_for("catalog_manager")
    grid = html(manager.get("/structure/new/family-variant/?family=bottles"))
    assert 'for="lv-color"' in grid and 'for="ax-color"' in grid
    refused = manager.post(
        "/structure/new/family-variant/",
        {"family": "bottles", "code": "bottles_by_color", "level_price": "1"},
    )
    assert refused.status_code == 422
    assert "axes" in field_error(html(refused), "levels")
    created = manager.post(
        "/structure/new/family-variant/",
        {
            "family": "bottles",
            "code": "bottles_by_color",
            "label_en_US": "By colour",
            "level_color": "1",
            "axis_color": "on",
            "level_gtin": "1",
            "level_price": "1",
        },
    )
    assert created.status_code == 302
    variant = FamilyVariant.objects.get(code="bottles_by_color")
    assert structure.variant_levels(variant) == [
        {"level": 1, "axes": ["color"], "attributes": ["gtin", "price"]}
    ]
    saved = manager.post(
        "/structure/family-variants/bottles_by_color/",
        {
            "version": variant.version,
            "label_en_US": "By colour and size",
            "level_size": "1",
            "axis_size": "on",
            "level_color": "2",
            "axis_color": "on",
            "level_gtin": "2",
            "level_price": "2",
        },
    )
    assert saved.status_code == 302
    variant.refresh_from_db()
    assert [lv["axes"] for lv in structure.variant_levels(variant)] == [["size"], ["color"]]
    assert variant.labels == {"en_US": "By colour and size"}


# --- categories -------------------------------------------------------------------------------


def test_category_tree_add_a_child_and_edit_labels(catalog, client_for, api_client):
    editor = client_for("catalog_editor")
    tree = html(editor.get("/structure/categories/?tree=master"))
    assert "/structure/categories/coffee/" in tree and "Tree master: 4 categories" in tree
    added = editor.post(
        "/structure/categories/kitchen/",
        {
            "action": "add_child",
            "code": "tea",
            "child_label_en_US": "Tea",
            "child_label_fr_FR": "Thé",
        },
    )
    assert added.status_code == 302
    tea = Category.objects.get(code="tea")
    assert (tea.path, tea.labels) == ("master/kitchen/tea", {"en_US": "Tea", "fr_FR": "Thé"})
    kitchen = Category.objects.get(code="kitchen")
    saved = editor.post(
        "/structure/categories/kitchen/",
        {"action": "save", "version": kitchen.version, "label_de_DE": "Küche", "sort_order": "3"},
    )
    assert saved.status_code == 302
    body = api_client("viewer").get("/api/v1/catalog/categories/kitchen").json()
    assert body["labels"] == {"de_DE": "Küche"} and body["sort_order"] == 3
    # a move into its own subtree is refused next to the parent field
    coffee = Category.objects.get(code="coffee")
    cycle = editor.post(
        "/structure/categories/kitchen/",
        {"action": "save", "version": kitchen.version + 1, "parent": coffee.code},
    )
    assert cycle.status_code == 422
    assert "cycle" in field_error(html(cycle), "c-parent")
    taken = editor.post("/structure/categories/kitchen/", {"action": "add_child", "code": "tea"})
    assert taken.status_code == 409 and "exists already" in field_error(html(taken), "ch-code")
    new_tree = editor.post("/structure/categories/", {"code": "amazon_de", "label_de_DE": "Amazon"})
    assert new_tree["Location"] == "/structure/categories/?tree=amazon_de"
    assert Category.objects.get(code="amazon_de").parent is None


# --- channels ---------------------------------------------------------------------------------


def test_edit_and_create_a_channel(catalog, client_for, api_client):
    admin = client_for("admin")
    channel = Channel.objects.get(code="marketplace")
    saved = admin.post(
        "/structure/channels/marketplace/",
        {
            "version": channel.version,
            "label_en_US": "Marketplace",
            "kind": "marketplace",
            "locales": ["en_US", "fr_FR", "de_DE"],
            "currencies": ["USD", "EUR"],
            "territories": "US FR, DE",
            "category_tree": "master",
        },
    )
    assert saved.status_code == 302
    body = api_client("viewer").get("/api/v1/catalog/channels/marketplace").json()
    assert body["locales"] == ["de_DE", "en_US", "fr_FR"]
    assert body["currencies"] == ["EUR", "USD"] and body["territories"] == ["US", "FR", "DE"]
    assert body["version"] == channel.version + 1 and not body["requires_review"]
    bad = admin.post(
        "/structure/channels/marketplace/",
        {"version": body["version"], "kind": "marketplace", "locales": [], "territories": "us"},
    )
    assert bad.status_code == 422
    assert "at least one locale" in html(bad)
    stale = admin.post(
        "/structure/channels/marketplace/",
        {"version": channel.version, "kind": "print", "locales": ["en_US"]},
    )
    assert stale.status_code == 409 and "Someone else saved this" in html(stale)
    assert Channel.objects.get(code="marketplace").kind == "marketplace"
    created = admin.post(
        "/structure/new/channel/",
        {"code": "print_de", "kind": "print", "locales": ["de_DE"], "currencies": ["EUR"]},
    )
    assert created["Location"] == "/structure/channels/print_de/"


# --- locales and currencies -------------------------------------------------------------------


def test_locales_and_currencies_add_relabel_and_delete(catalog, client_for):
    admin = client_for("admin")
    page = html(admin.get("/structure/locales/"))
    assert 'for="locale-label-en_US"' in page and 'for="new-currency-code"' in page
    assert (
        admin.post(
            "/structure/locales/", {"kind": "locale", "action": "create", "code": "pt_BR"}
        ).status_code
        == 302
    )
    wrong = admin.post(
        "/structure/locales/", {"kind": "locale", "action": "create", "code": "italian"}
    )
    assert wrong.status_code == 422
    assert "language_TERRITORY" in field_error(html(wrong), "new-locale")
    admin.post(
        "/structure/locales/",
        {"kind": "locale", "action": "save", "code": "pt_BR", "label": "Italiano"},
    )
    assert Locale.objects.get(code="pt_BR").label == "Italiano"
    in_use = admin.post(
        "/structure/locales/", {"kind": "currency", "action": "delete", "code": "EUR"}
    )
    assert in_use.status_code == 409 and "channels ecommerce use it" in html(in_use)
    admin.post("/structure/locales/", {"kind": "currency", "action": "create", "code": "CHF"})
    assert (
        admin.post(
            "/structure/locales/", {"kind": "currency", "action": "delete", "code": "CHF"}
        ).status_code
        == 302
    )
    assert not Currency.objects.filter(code="CHF").exists()


# --- query counts -----------------------------------------------------------------------------


def _bulk_attributes(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        Attribute.objects.create(code=f"bulk_{i:04d}", type="select", labels={"en_US": f"B {i}"})


LIST_PAGES = [
    "/structure/",
    "/structure/attributes/",
    "/structure/attribute-groups/",
    "/structure/families/",
    "/structure/family-variants/",
    "/structure/categories/",
    "/structure/channels/",
    "/structure/locales/",
]


@pytest.mark.parametrize("url", LIST_PAGES)
def test_list_pages_query_count_does_not_grow(
    catalog, client_for, url, django_assert_max_num_queries
):
    """No query per row: ten times the rows, the same number of queries."""
    viewer = client_for("viewer")

    def grow(n: int, start: int) -> None:
        _bulk_attributes(n, start)
        for i in range(start, start + n):
            family = Family.objects.create(code=f"fam_{i:04d}")
            family.attributes.set(Attribute.objects.filter(code__in=["name", f"bulk_{i:04d}"]))
            FamilyVariant.objects.create(code=f"fv_{i:04d}", family=family)
            Category.objects.create(code=f"cat_{i:04d}", parent_id=None, path=f"cat_{i:04d}")
            channel = Channel.objects.create(code=f"ch_{i:04d}")
            channel.locales.set(Locale.objects.filter(code="en_US"))
            Locale.objects.create(code=f"en_X{i:04d}"[:10])

    grow(3, 0)
    viewer.get(url)  # warm caches (sessions, permissions)
    with django_assert_max_num_queries(40) as few:
        assert viewer.get(url).status_code == 200
    grow(30, 100)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert viewer.get(url).status_code == 200


def test_a_thousand_attributes_are_paginated(catalog, client_for):
    _bulk_attributes(1000)
    viewer = client_for("viewer")
    total = Attribute.objects.count()
    first = html(viewer.get("/structure/attributes/"))
    assert f"{total} attributes" in first and f"Page 1 of {-(-total // 50)}" in first
    assert first.count('href="/structure/attributes/bulk_') <= 50
    last = html(viewer.get("/structure/attributes/?q=bulk&page=20"))
    assert "bulk_0999" in last and 'rel="prev"' in last and 'rel="next"' not in last


def test_stale_option_and_locale_edits_answer_409(catalog, client_for):
    editor = client_for("admin")
    page = html(editor.get("/structure/attributes/color/options/blue/"))
    blue = AttributeOption.objects.get(attribute__code="color", code="blue")
    assert f'name="version" value="{blue.version}"' in page
    structure.update_option("color", "blue", labels={"en_US": "Navy"})
    stale = editor.post(
        "/structure/attributes/color/options/blue/",
        {"action": "save", "version": blue.version, "label_en_US": "Sky", "sort_order": "1"},
    )
    assert stale.status_code == 409
    assert "Someone else saved this" in html(stale) and 'value="Navy"' in html(stale)
    assert AttributeOption.objects.get(pk=blue.pk).labels == {"en_US": "Navy"}

    fr = Locale.objects.get(code="fr_FR")
    structure.update_locale("fr_FR", label="Français")
    refused = editor.post(
        "/structure/locales/",
        {
            "kind": "locale",
            "action": "save",
            "code": "fr_FR",
            "label": "French",
            "version": fr.version,
        },
    )
    assert refused.status_code == 409 and 'value="Français"' in html(refused)
    assert Locale.objects.get(code="fr_FR").label == "Français"
