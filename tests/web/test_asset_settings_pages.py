"""The Asset settings pages: collections, tags, custom fields and approval workflows.

Real database, real services: what a page saves is read back from the models and the API; what a
viewer sees and is refused; stale writes answered with 409 and the current state; what an
agency and a scoped manager see; list pages whose query count does not grow with the rows."""

import re

import pytest

from folio.assets import editing
from folio.assets.models import Asset, Collection, CustomField, ReviewWorkflow, Tag
from tests.web.conftest import new_asset


def html(response) -> str:
    return response.content.decode()


def field_error(page: str, field_id: str) -> str:
    found = re.search(rf'id="{field_id}-err">([^<]+)<', page)
    assert found, f"no inline error for {field_id}"
    return found.group(1)


@pytest.fixture
def dam(media, users):
    """Two collections (one with a workflow), tagged files, a custom field, a workflow."""
    wf = editing.create_workflow(
        "brand-legal",
        name="Brand then legal",
        steps=[{"name": "brand", "group": "approver"}, {"name": "legal", "group": None}],
    )
    editing.create_collection("winter", name="Winter", workflow="brand-legal")
    editing.create_collection("summer", name="Summer")
    editing.create_custom_field("licence", label="Licence", type="select", options=["CC", "own"])
    a = new_asset("Snow", collections=["winter"], tags=["snow", "cold"])
    b = new_asset("Ice", collections=["winter"], tags=["ice", "cold"])
    c = new_asset("Beach", collections=["summer"], tags=["beach"])
    return {"workflow": wf, "assets": (a, b, c)}


PAGES = [
    "/asset-settings/",
    "/asset-settings/collections/",
    "/asset-settings/collections/winter/",
    "/asset-settings/tags/",
    "/asset-settings/fields/",
    "/asset-settings/fields/licence/",
    "/asset-settings/workflows/",
    "/asset-settings/workflows/brand-legal/",
]


# --- reading and refusing ---------------------------------------------------------------------


def test_a_viewer_reads_every_page_without_forms(dam, client_for):
    viewer = client_for("viewer")
    assert 'href="/asset-settings/"' in html(viewer.get("/"))  # the main navigation has it
    layout_forms = html(viewer.get("/asset-settings/")).count('method="post"')
    for url in PAGES:
        response = viewer.get(url)
        assert response.status_code == 200, url
        assert html(response).count('method="post"') == layout_forms, url
    listing = html(viewer.get("/asset-settings/collections/"))
    assert "Winter" in listing and "brand-legal" in listing
    assert re.search(r"collection=winter\">2<", listing)  # two files in winter
    tags = html(viewer.get("/asset-settings/tags/"))
    assert re.search(r"tag=cold\">2<", tags)  # tag counts
    assert "Brand then legal" in html(viewer.get("/asset-settings/workflows/"))


def test_viewer_posts_of_every_kind_are_refused_and_change_nothing(dam, client_for):
    viewer = client_for("viewer")
    cold = Tag.objects.get(name="cold")
    posts = [
        ("/asset-settings/collections/", {"code": "autumn", "name": "Autumn"}),
        ("/asset-settings/collections/winter/", {"action": "save", "name": "X", "version": 1}),
        ("/asset-settings/collections/winter/", {"action": "delete"}),
        ("/asset-settings/tags/", {"action": "rename", "name": "cold", "new_name": "chilly"}),
        ("/asset-settings/tags/", {"action": "merge", "tags": ["snow", "ice"], "into": "w"}),
        ("/asset-settings/tags/", {"action": "delete", "name": "cold"}),
        ("/asset-settings/fields/", {"code": "rights", "type": "text"}),
        ("/asset-settings/fields/licence/", {"action": "save", "label": "X", "type": "text"}),
        ("/asset-settings/fields/licence/", {"action": "delete"}),
        ("/asset-settings/workflows/", {"code": "w2", "step_name": "a", "step_group": ""}),
        ("/asset-settings/workflows/brand-legal/", {"action": "save", "name": "X"}),
        ("/asset-settings/workflows/brand-legal/", {"action": "delete"}),
    ]
    for url, data in posts:
        assert viewer.post(url, data).status_code == 403, (url, data)
    assert not Collection.objects.filter(code="autumn").exists()
    assert Collection.objects.get(code="winter").name == "Winter"
    assert set(Tag.objects.values_list("name", flat=True)) == {"snow", "cold", "ice", "beach"}
    assert Tag.objects.get(pk=cold.pk).version == cold.version
    assert list(CustomField.objects.values_list("code", "label")) == [("licence", "Licence")]
    assert list(ReviewWorkflow.objects.values_list("code", "name")) == [
        ("brand-legal", "Brand then legal")
    ]


def test_an_agency_sees_only_its_collections_and_their_tags(dam, client_for, users):
    Collection.objects.get(code="summer").agencies.add(users["agency"])
    agency = client_for("agency")
    assert 'href="/asset-settings/"' in html(agency.get("/"))
    listing = html(agency.get("/asset-settings/collections/"))
    assert "summer" in listing and "winter" not in listing
    assert agency.get("/asset-settings/collections/winter/").status_code == 404
    tags = html(agency.get("/asset-settings/tags/"))
    assert "beach" in tags and "snow" not in tags and "cold" not in tags
    # the workflow page names no collection the agency does not see
    assert "/asset-settings/collections/winter/" not in html(
        agency.get("/asset-settings/workflows/brand-legal/")
    )
    assert agency.post("/asset-settings/collections/", {"code": "x"}).status_code == 403


def test_a_scoped_manager_edits_only_its_collections(dam, client_for, users):
    Collection.objects.get(code="summer").managers.add(users["asset_manager"])
    ada = client_for("asset_manager")
    mine = html(ada.get("/asset-settings/collections/summer/"))
    assert 'name="name"' in mine and "ada" in mine
    other = html(ada.get("/asset-settings/collections/winter/"))
    assert 'name="name"' not in other and 'value="delete"' not in other
    assert 'id="col-code"' not in html(ada.get("/asset-settings/collections/"))  # no create
    winter = Collection.objects.get(code="winter")
    response = ada.post(
        "/asset-settings/collections/winter/",
        {"action": "save", "name": "Mine now", "version": winter.version},
    )
    assert response.status_code == 403
    assert ada.post("/asset-settings/collections/", {"code": "x"}).status_code == 403
    assert Collection.objects.get(code="winter").name == "Winter"
    saved = ada.post(
        "/asset-settings/collections/summer/",
        {"action": "save", "name": "Summer 2027", "version": 1, "workflow": ""},
    )
    assert saved.status_code == 302
    assert Collection.objects.get(code="summer").name == "Summer 2027"


# --- collections ------------------------------------------------------------------------------


def test_create_edit_and_delete_a_collection(dam, client_for, users, api_client):
    admin = client_for("admin")
    response = admin.post(
        "/asset-settings/collections/",
        {"code": "autumn", "name": "Autumn", "description": "Leaves", "agencies": "agnes"},
    )
    assert response.status_code == 302 and response["Location"].endswith("/collections/autumn/")
    autumn = Collection.objects.get(code="autumn")
    assert autumn.description == "Leaves" and list(autumn.agencies.all()) == [users["agency"]]

    page = html(admin.get("/asset-settings/collections/autumn/"))
    assert f'name="version" value="{autumn.version}"' in page
    response = admin.post(
        "/asset-settings/collections/autumn/",
        {
            "action": "save",
            "version": autumn.version,
            "name": "Autumn 2027",
            "description": "",
            "workflow": "brand-legal",
            "agencies": "",
            "is_brand_kit": "on",
        },
    )
    assert response.status_code == 302
    read = api_client("viewer").get("/api/v1/asset-collections/autumn").json()
    assert read["name"] == "Autumn 2027" and read["workflow"] == "brand-legal"
    assert read["is_brand_kit"] is True and read["agencies"] == []

    # an unknown agency user is named next to its field, nothing is saved (422)
    current = Collection.objects.get(code="autumn")
    refused = admin.post(
        "/asset-settings/collections/autumn/",
        {"action": "save", "version": current.version, "name": "Y", "agencies": "nobody"},
    )
    assert refused.status_code == 422
    assert "no user nobody" in field_error(html(refused), "col-agencies")
    assert Collection.objects.get(code="autumn").name == "Autumn 2027"

    bad = admin.post("/asset-settings/collections/", {"code": "no spaces"})
    assert bad.status_code == 422 and "letters, digits" in field_error(html(bad), "col-code")
    taken = admin.post("/asset-settings/collections/", {"code": "winter"})
    assert taken.status_code == 409 and "exists already" in html(taken)

    response = admin.post(
        "/asset-settings/collections/autumn/", {"action": "delete", "version": current.version}
    )
    assert response.status_code == 302
    assert not Collection.objects.filter(code="autumn").exists()


def test_a_stale_collection_edit_answers_409_with_the_current_state(dam, client_for):
    admin = client_for("admin")
    winter = Collection.objects.get(code="winter")
    seen = winter.version
    editing.update_collection("winter", name="Winter (renamed elsewhere)")
    response = admin.post(
        "/asset-settings/collections/winter/",
        {"action": "save", "version": seen, "name": "Mine", "workflow": ""},
    )
    assert response.status_code == 409
    page = html(response)
    assert "Someone else saved this" in page
    assert 'value="Winter (renamed elsewhere)"' in page
    assert f'name="version" value="{seen + 1}"' in page
    assert Collection.objects.get(code="winter").name == "Winter (renamed elsewhere)"
    gone = admin.post("/asset-settings/collections/winter/", {"action": "delete", "version": seen})
    assert gone.status_code == 409 and Collection.objects.filter(code="winter").exists()


# --- tags -------------------------------------------------------------------------------------


def test_rename_merge_and_delete_tags(dam, client_for):
    admin = client_for("admin")
    snow, ice = dam["assets"][0], dam["assets"][1]
    cold = Tag.objects.get(name="cold")
    response = admin.post(
        "/asset-settings/tags/",
        {"action": "rename", "name": "cold", "new_name": " Chilly ", "version": cold.version},
    )
    assert response.status_code == 302
    assert set(snow.tags.values_list("name", flat=True)) == {"snow", "chilly"}

    # renaming into an existing tag is refused with the reason, next to that row
    chilly = Tag.objects.get(name="chilly")
    clash = admin.post(
        "/asset-settings/tags/",
        {"action": "rename", "name": "chilly", "new_name": "snow", "version": chilly.version},
    )
    assert clash.status_code == 409 and "merge the two instead" in html(clash)

    response = admin.post(
        "/asset-settings/tags/", {"action": "merge", "tags": ["snow", "ice"], "into": "Winter"}
    )
    assert response.status_code == 302
    assert not Tag.objects.filter(name__in=["snow", "ice"]).exists()
    assert set(Asset.objects.filter(tags__name="winter").values_list("pk", flat=True)) == {
        snow.pk,
        ice.pk,
    }
    none_ticked = admin.post("/asset-settings/tags/", {"action": "merge", "into": "x"})
    assert none_ticked.status_code == 422 and "Choose the tags to merge" in html(none_ticked)

    beach = Tag.objects.get(name="beach")
    response = admin.post(
        "/asset-settings/tags/", {"action": "delete", "name": "beach", "version": beach.version}
    )
    assert response.status_code == 302 and not Tag.objects.filter(name="beach").exists()


def test_a_stale_tag_rename_answers_409_with_the_current_name(dam, client_for):
    admin = client_for("admin")
    cold = Tag.objects.get(name="cold")
    editing.rename_tag("cold", "frosty", expected_version=cold.version)
    response = admin.post(
        "/asset-settings/tags/",
        {"action": "rename", "name": "frosty", "new_name": "icy", "version": cold.version},
    )
    assert response.status_code == 409
    page = html(response)
    assert "Someone else saved this" in page and 'value="frosty"' in page
    assert Tag.objects.filter(name="frosty").exists() and not Tag.objects.filter(name="icy")


def test_tags_are_paginated(dam, client_for):
    Tag.objects.bulk_create([Tag(name=f"bulk {i:04d}") for i in range(250)])
    viewer = client_for("viewer")
    first = html(viewer.get("/asset-settings/tags/"))
    assert "Page 1 of 3" in first and "bulk 0000" in first and "bulk 0150" not in first
    assert "bulk 0150" in html(viewer.get("/asset-settings/tags/?page=2"))
    assert "beach" in html(viewer.get("/asset-settings/tags/?q=bea"))


# --- custom fields ----------------------------------------------------------------------------


def test_create_edit_and_delete_a_custom_field(dam, client_for, api_client):
    admin = client_for("admin")
    refused = admin.post("/asset-settings/fields/", {"code": "channel", "type": "select"})
    assert refused.status_code == 422
    assert "at least one option" in field_error(html(refused), "cf-options")
    response = admin.post(
        "/asset-settings/fields/",
        {"code": "channel", "label": "Channel", "type": "select", "options": "web\n\nprint\n"},
    )
    assert response.status_code == 302
    field = CustomField.objects.get(code="channel")
    assert field.options == ["web", "print"] and field.required is False

    response = admin.post(
        "/asset-settings/fields/channel/",
        {
            "action": "save",
            "version": field.version,
            "label": "Sales channel",
            "type": "select",
            "options": "web\nprint\nstore",
            "required": "on",
        },
    )
    assert response.status_code == 302
    read = api_client("viewer").get("/api/v1/asset-custom-fields/channel").json()
    assert read["label"] == "Sales channel" and read["options"] == ["web", "print", "store"]
    assert read["required"] is True

    # stale: someone else changed it meanwhile
    stale = admin.post(
        "/asset-settings/fields/channel/",
        {"action": "save", "version": field.version, "label": "Old", "type": "text"},
    )
    assert stale.status_code == 409
    assert 'value="Sales channel"' in html(stale) and "Someone else saved this" in html(stale)

    # a field a file holds a value for stays
    asset = dam["assets"][0]
    editing.update_asset(asset.pk, {"custom": {"channel": "web"}})
    current = CustomField.objects.get(code="channel")
    held = admin.post(
        "/asset-settings/fields/channel/", {"action": "delete", "version": current.version}
    )
    assert held.status_code == 409 and "1 asset holds values" in html(held)
    Asset.objects.filter(pk=asset.pk).update(custom={})  # a required field: cleared directly
    response = admin.post(
        "/asset-settings/fields/channel/", {"action": "delete", "version": current.version}
    )
    assert response.status_code == 302 and not CustomField.objects.filter(code="channel")


# --- approval workflows -----------------------------------------------------------------------


def test_create_edit_and_delete_a_workflow(dam, client_for, api_client):
    admin = client_for("admin")
    refused = admin.post(
        "/asset-settings/workflows/",
        {"code": "legal", "step_name": ["check", ""], "step_group": ["no-such-group", ""]},
    )
    assert refused.status_code == 422
    assert "no group no-such-group" in field_error(html(refused), "wf-step-0")
    response = admin.post(
        "/asset-settings/workflows/",
        {
            "code": "legal",
            "name": "Legal only",
            "step_name": ["legal", "", ""],
            "step_group": ["approver", "", ""],
            "kinds": ["certificate", "manual"],
        },
    )
    assert response.status_code == 302
    legal = ReviewWorkflow.objects.get(code="legal")
    assert legal.steps == [{"name": "legal", "group": "approver"}]
    assert legal.kinds == ["certificate", "manual"]

    page = html(admin.get("/asset-settings/workflows/legal/"))
    assert 'name="step_name"' in page and page.count('name="step_name"') == 3  # 1 + 2 spare
    response = admin.post(
        "/asset-settings/workflows/legal/",
        {
            "action": "save",
            "version": legal.version,
            "name": "Legal, then brand",
            "step_name": ["legal", "brand", ""],
            "step_group": ["approver", "", ""],
            "kinds": ["certificate"],
        },
    )
    assert response.status_code == 302
    read = api_client("viewer").get("/api/v1/asset-workflows/legal").json()
    assert [s["name"] for s in read["steps"]] == ["legal", "brand"]
    assert read["name"] == "Legal, then brand" and read["kinds"] == ["certificate"]

    stale = admin.post(
        "/asset-settings/workflows/legal/",
        {"action": "save", "version": legal.version, "name": "X", "step_name": ["x"]},
    )
    assert stale.status_code == 409
    assert 'value="Legal, then brand"' in html(stale)

    # a kind already taken by another workflow is named next to the kinds
    taken = admin.post(
        "/asset-settings/workflows/brand-legal/",
        {
            "action": "save",
            "version": dam["workflow"].version,
            "name": "Brand then legal",
            "step_name": ["brand"],
            "step_group": [""],
            "kinds": ["certificate"],
        },
    )
    assert taken.status_code == 422 and "already uses workflow legal" in html(taken)

    current = ReviewWorkflow.objects.get(code="legal")
    response = admin.post(
        "/asset-settings/workflows/legal/", {"action": "delete", "version": current.version}
    )
    assert response.status_code == 302 and not ReviewWorkflow.objects.filter(code="legal")


# --- query counts -----------------------------------------------------------------------------


def _grow(n: int, start: int) -> None:
    for i in range(start, start + n):
        c = Collection.objects.create(code=f"c-{i:04d}", name=f"C {i}")
        c.workflow = ReviewWorkflow.objects.create(
            code=f"w-{i:04d}", name=f"W {i}", steps=[{"name": "a", "group": None}]
        )
        c.save()
        Tag.objects.create(name=f"t {i:04d}")
        CustomField.objects.create(code=f"f-{i:04d}", label=f"F {i}", type="text")


@pytest.mark.parametrize(
    "url",
    [
        "/asset-settings/",
        "/asset-settings/collections/",
        "/asset-settings/tags/",
        "/asset-settings/fields/",
        "/asset-settings/workflows/",
    ],
)
def test_list_pages_query_count_does_not_grow(dam, client_for, url, django_assert_max_num_queries):
    admin = client_for("admin")  # the one who sees every form
    _grow(3, 0)
    admin.get(url)  # warm caches (sessions, permissions)
    with django_assert_max_num_queries(40) as few:
        assert admin.get(url).status_code == 200
    _grow(30, 100)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert admin.get(url).status_code == 200
