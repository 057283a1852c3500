"""Near-duplicates: the same photo resized, re-encoded or slightly brightened is found through
the perceptual hash the preview job computes; a different picture is not."""

import io
import random

import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from folio.assets import services, similarity
from folio.assets.models import Asset
from folio.jobs.worker import Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("media")]


def photo(seed: int, size=(1200, 800)) -> Image.Image:
    """A 'photo' with structure: soft shapes of random colours on a gradient."""
    rng = random.Random(seed)
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(25):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        r = rng.randrange(40, 260)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return img.filter(ImageFilter.GaussianBlur(4))


def encode(img: Image.Image, fmt="JPEG", **kw) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


def add(data: bytes, name: str, user) -> Asset:
    return services.add_asset(io.BytesIO(data), filename=name, user=user)


def test_resized_reencoded_and_brightened_copies_are_near_duplicates(api_client):
    client = api_client("asset_manager")
    user = client.user
    original = photo(1)
    a = add(encode(original, quality=92), "beach.jpg", user)
    resized = add(encode(original.resize((600, 400)), quality=92), "beach-small.jpg", user)
    recoded = add(encode(original, quality=35), "beach-q35.jpg", user)
    brighter = add(
        encode(ImageEnhance.Brightness(original).enhance(1.12), "PNG"), "beach-bright.png", user
    )
    other = add(encode(photo(2), quality=92), "mountain.jpg", user)
    other_copy = add(encode(photo(2).resize((900, 600)), "WEBP", quality=80), "mountain.webp", user)

    # Nothing is hashed on the request path; the preview job does it.
    assert set(Asset.objects.values_list("phash", flat=True)) == {""}
    Worker(batch=True).run()
    hashes = dict(Asset.objects.values_list("pk", "phash"))
    assert all(len(h) == 16 for h in hashes.values())
    assert similarity.distance(hashes[a.pk], hashes[other.pk]) > 12

    found = {x.pk: d for x, d in similarity.near_duplicates(a.pk)}
    assert set(found) == {resized.pk, recoded.pk, brighter.pk}
    assert all(d <= similarity.DEFAULT_MAX_DISTANCE for d in found.values())

    response = client.get(f"/api/v1/assets/{a.pk}/similar")
    assert response.status_code == 200, response.content
    rows = response.json()
    assert {r["id"] for r in rows} == {resized.pk, recoded.pk, brighter.pk}
    assert [r["distance"] for r in rows] == sorted(r["distance"] for r in rows)
    assert rows[0]["thumb"] == f"/api/v1/assets/{rows[0]['id']}/preview/thumb"

    response = client.get("/api/v1/assets/near-duplicates")
    assert response.status_code == 200, response.content
    groups = [sorted(x["id"] for x in g["assets"]) for g in response.json()]
    assert groups == [
        sorted([a.pk, resized.pk, recoded.pk, brighter.pk]),
        sorted([other.pk, other_copy.pk]),
    ]
    assert client.get("/api/v1/assets/near-duplicates?max_distance=9").status_code == 422


def test_agency_sees_only_near_duplicates_in_its_collections(api_client):
    manager = api_client("asset_manager")
    agency = api_client("agency")
    original = photo(3)
    a = add(encode(original, quality=90), "shoot-1.jpg", manager.user)
    add(encode(original, quality=50), "shoot-1-low.jpg", manager.user)
    Worker(batch=True).run()
    assert manager.get(f"/api/v1/assets/{a.pk}/similar").json() != []
    assert agency.get(f"/api/v1/assets/{a.pk}/similar").status_code == 404
    assert agency.get("/api/v1/assets/near-duplicates").json() == []


def test_dhash_and_grouping_without_the_database():
    import pyvips

    img = pyvips.Image.new_from_buffer(encode(photo(4)), "")
    h1 = similarity.dhash(img)
    h2 = similarity.dhash(img.resize(0.3))
    assert similarity.distance(h1, h2) <= 4
    flat = pyvips.Image.black(50, 50).new_from_image([255, 255, 255]).copy(interpretation="srgb")
    assert similarity.dhash(flat) == "0000000000000000"
