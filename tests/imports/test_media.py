"""Media in imports: files named by rows become assets (one per content) and links in the
column's role; the media folder's other files are added and auto-linked by name."""

import zipfile

import pytest

from folio.assets.models import Asset
from folio.catalog.models import Product
from folio.linking.models import Link
from tests.assets import files as media_files
from tests.assets.conftest import media  # noqa: F401
from tests.imports.conftest import counts, problems, run_import, write

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def _folder(tmp_path, products: str, images: dict[str, bytes]):
    folder = tmp_path / "import"
    write(folder / "products.csv", products)
    for name, data in images.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def _links(sku):
    return [
        (lk.role, lk.position, lk.asset.current_version.filename)
        for lk in Link.objects.filter(product__sku=sku)
        .select_related("asset__current_version")
        .order_by("role", "position")
    ]


def test_media_columns_become_assets_and_links(catalog, tmp_path):
    red, blue = media_files.jpeg(color=(200, 0, 0)), media_files.jpeg(color=(0, 0, 200))
    folder = _folder(
        tmp_path,
        "sku;family;media-main;media-gallery\n"
        "A;bottles;media/a-front.jpg;media/a-side.jpg,media/a-back.png\n"
        "B;bottles;media/b.jpg;\n",
        {
            "media/a-front.jpg": red,
            "media/a-side.jpg": blue,
            "media/a-back.png": media_files.png(),
            "media/b.jpg": red,  # the same bytes as a-front: one asset for both
        },
    )
    imp = run_import(folder)
    assert not problems(imp), problems(imp)
    assert _links("A") == [
        ("gallery", 1, "a-side.jpg"),
        ("gallery", 2, "a-back.png"),
        ("main", 1, "a-front.jpg"),
    ]
    assert Asset.objects.count() == 3
    b_main = Link.objects.get(product__sku="B", role="main")
    assert b_main.asset == Link.objects.get(product__sku="A", role="main").asset
    assert b_main.source == "import"
    assert imp.outcome["media"]["assets_created"] == 3

    again = run_import(folder)
    assert counts(again)["unchanged"] == 2
    assert Asset.objects.count() == 3 and Link.objects.count() == 4
    assert again.outcome["media"]["links_added"] == 0


def test_media_in_a_zip(catalog, tmp_path):
    path = tmp_path / "in.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("products.csv", "sku;family;media-main\nA;bottles;a.jpg\n")
        z.writestr("media/a.jpg", media_files.jpeg())
    imp = run_import(path)
    assert not problems(imp), problems(imp)
    assert _links("A") == [("main", 1, "a.jpg")]


def test_a_missing_file_skips_the_row_whole(catalog, tmp_path):
    folder = _folder(
        tmp_path,
        "sku;family;name-en_US;media-main\nA;bottles;Alpha;media/nope.jpg\n"
        "B;bottles;Beta;media/b.jpg\n",
        {"media/b.jpg": media_files.jpeg()},
    )
    imp = run_import(folder)
    [p] = problems(imp)
    assert (p["row"], p["column"], p["value"]) == (2, "media-main", "media/nope.jpg")
    assert "no file" in p["reason"]
    assert list(Product.objects.values_list("sku", flat=True)) == ["B"]


def test_an_asset_collection_column_holds_the_assets_and_links_the_image(catalog, tmp_path):
    folder = _folder(
        tmp_path,
        "sku;family;images\nA;bottles;media/a.jpg,media/b.jpg\n",
        {
            "media/a.jpg": media_files.jpeg(color=(1, 2, 3)),
            "media/b.jpg": media_files.jpeg(color=(90, 2, 3)),
        },
    )
    imp = run_import(folder)
    assert not problems(imp), problems(imp)
    value = Product.objects.get(sku="A").values["images"][0]["data"]
    assets = {str(a.pk): a.current_version.filename for a in Asset.objects.all()}
    assert [assets[i] for i in value] == ["a.jpg", "b.jpg"]
    # `images` is the bottles family's image attribute: its files show as the main images.
    assert [r for r, _, _ in _links("A")] == ["main", "main"]


def test_existing_assets_by_reference(catalog, tmp_path):
    from folio.assets.services import add_asset

    with open(write(tmp_path / "x.jpg", ""), "wb") as fh:
        fh.write(media_files.jpeg())
    with open(tmp_path / "x.jpg", "rb") as fh:
        asset = add_asset(fh, filename="x.jpg")
    imp = run_import(
        write(
            tmp_path / "p" / "products.csv",
            f"sku;family;media-manual\nA;bottles;asset:{asset.pk}\nB;bottles;asset:999999\n",
        )
    )
    [p] = problems(imp)
    assert p["row"] == 3 and "no asset 999999" in p["reason"]
    assert Link.objects.get(product__sku="A").role == "manual"


def test_the_media_folder_is_auto_linked_by_file_name(catalog, tmp_path):
    folder = _folder(
        tmp_path,
        "sku;family;media-main\nWB-1;bottles;media/named.jpg\nWB-2;bottles;\n",
        {
            "media/named.jpg": media_files.jpeg(color=(5, 5, 5)),
            "media/WB-2_front.jpg": media_files.jpeg(color=(6, 6, 6)),
            "media/WB-1_side.jpg": media_files.jpeg(color=(7, 7, 7)),
            "media/holiday.jpg": media_files.jpeg(color=(8, 8, 8)),
        },
    )
    imp = run_import(folder)
    assert not problems(imp), problems(imp)
    assert _links("WB-1") == [("gallery", 2, "WB-1_side.jpg"), ("main", 1, "named.jpg")]
    assert _links("WB-2") == [("main", 1, "WB-2_front.jpg")]
    warnings = problems(imp, "warning")
    assert [w["file"] for w in warnings] == ["media/holiday.jpg"]
    assert Asset.objects.count() == 4

    again = run_import(folder)
    assert Asset.objects.count() == 4 and Link.objects.count() == 3
    assert again.outcome["media"].get("linked", 0) == 0


def test_a_folder_of_images_alone_is_a_bulk_folder_import(catalog, tmp_path):
    run_import(write(tmp_path / "products.csv", "sku;family\nWB-1;bottles\n"))
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    (shoot / "WB-1_front.jpg").write_bytes(media_files.jpeg())
    (shoot / "WB-1-3.jpg").write_bytes(media_files.jpeg(color=(1, 1, 1)))
    imp = run_import(tmp_path / "products.csv", media_dir=shoot)
    assert sorted(_links("WB-1")) == [("gallery", 3, "WB-1-3.jpg"), ("main", 1, "WB-1_front.jpg")]
    assert imp.outcome["media"]["linked"] == 2
    # The folder alone does the same: nothing new the second time.
    (shoot / "WB-1_back.jpg").write_bytes(media_files.jpeg(color=(9, 9, 9)))
    imp = run_import(shoot)
    assert not problems(imp), problems(imp)
    assert imp.outcome["media"]["linked"] == 1 and imp.outcome["media"]["already_linked"] == 2


def test_a_dry_run_stores_no_file(catalog, tmp_path, media):  # noqa: F811
    folder = _folder(
        tmp_path,
        "sku;family;media-main\nA;bottles;media/a.jpg\n",
        {"media/a.jpg": media_files.jpeg(), "media/A_side.jpg": media_files.jpeg()},
    )
    imp = run_import(folder, dry_run=True)
    assert not problems(imp), problems(imp)
    assert not Asset.objects.exists() and not Link.objects.exists()
    root, _ = media
    assert not [p for p in root.rglob("*") if p.is_file()]
    assert imp.outcome["media"]["would_add"] == 1


def test_media_need_the_roles_that_add_assets(catalog, tmp_path, make_user):
    folder = _folder(
        tmp_path,
        "sku;family;media-main\nA;bottles;media/a.jpg\n",
        {"media/a.jpg": media_files.jpeg()},
    )
    imp = run_import(folder, user=make_user("catalog_editor"))
    assert any("assets.add_asset" in p["reason"] for p in problems(imp))
    assert not Product.objects.exists()
