"""Near-duplicates: the same picture saved again, resized, re-encoded or slightly edited.

Exact duplicates share a SHA-256 (the upload says so). Near ones are found by a perceptual
hash: a 64-bit difference hash (dHash) of a 9 × 8 greyscale thumbnail, computed by the
preview job from the preview it already holds in memory, stored in `Asset.phash` as 16 hex
digits. Two pictures are near-duplicates when their hashes differ in at most a few bits
(Hamming distance; 6 by default, out of 64).

Lookups compare hashes in Python after one narrow query, so they need no database
extension. Grouping everything avoids comparing all pairs: the 64 bits are cut into 8 bands
of 8 bits, and since two hashes within distance 7 must agree on at least one whole band,
only hashes sharing a band value are compared.
"""

from collections import defaultdict

import pyvips
from django.db.models import QuerySet

from folio.assets.models import Asset

HASH_BITS = 64
DEFAULT_MAX_DISTANCE = 6
MAX_DISTANCE = 7  # the banding below finds every pair up to this distance
BANDS = 8
MAX_BUCKET = 2000  # a flat colour (all-white) image hashes alike; such buckets are skipped
MAX_GROUPS = 500


def dhash(image: pyvips.Image) -> str:
    """The difference hash of `image`: greyscale, 9 × 8 pixels, one bit per horizontal
    neighbour pair (is the left one brighter?). Transparent areas count as white."""
    if image.hasalpha():
        image = image.flatten(background=[255] * (image.bands - 1))
    if image.bands >= 3:
        image = image.colourspace("b-w")
    if image.bands > 1:
        image = image.extract_band(0)
    # Shrinking in two steps averages many pixels into each of the 72, which is what makes
    # the hash stable under re-encoding, resizing and small edits.
    if image.width > 64 or image.height > 64:
        image = image.thumbnail_image(64, height=64, size="force")
    small = image.resize(9 / image.width, vscale=8 / image.height, kernel="linear")
    if small.width != 9 or small.height != 8:
        small = small.embed(0, 0, 9, 8, extend="copy")
    pixels = small.cast("uchar").write_to_memory()
    bits = 0
    for y in range(8):
        row = pixels[y * 9 : y * 9 + 9]
        for x in range(8):
            bits = (bits << 1) | (1 if row[x] > row[x + 1] else 0)
    return f"{bits:016x}"


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _check_distance(max_distance: int) -> int:
    from folio.errors import InvalidInput

    if not 0 <= max_distance <= MAX_DISTANCE:
        raise InvalidInput(
            f"max_distance must be between 0 and {MAX_DISTANCE}",
            details={"field": "max_distance", "value": max_distance},
        )
    return max_distance


def near_duplicates(
    asset_id: int,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    *,
    among: QuerySet | None = None,
) -> list[tuple[Asset, int]]:
    """Assets whose picture is within `max_distance` bits of this asset's, closest first.
    `among` limits the candidates (e.g. what the user may see). Empty when the asset has no
    hash yet (not an image, or its previews are still being made)."""
    _check_distance(max_distance)
    source = Asset.objects.filter(pk=asset_id).values_list("phash", flat=True).first()
    if not source:
        return []
    target = int(source, 16)
    candidates = (among if among is not None else Asset.objects.all()).exclude(phash="")
    found = []
    for pk, phash in (
        candidates.exclude(pk=asset_id).values_list("pk", "phash").iterator(chunk_size=5000)
    ):
        d = (target ^ int(phash, 16)).bit_count()
        if d <= max_distance:
            found.append((pk, d))
    found.sort(key=lambda item: (item[1], item[0]))
    by_id = Asset.objects.in_bulk([pk for pk, _ in found])
    return [(by_id[pk], d) for pk, d in found if pk in by_id]


def near_duplicate_groups(
    max_distance: int = DEFAULT_MAX_DISTANCE, *, among: QuerySet | None = None
) -> list[list[int]]:
    """Groups of asset ids (each of two or more) whose pictures are near-duplicates of one
    another, directly or through a chain; largest groups first, ids ascending in a group."""
    _check_distance(max_distance)
    qs = (among if among is not None else Asset.objects.all()).exclude(phash="")
    hashes: dict[int, int] = {
        pk: int(phash, 16) for pk, phash in qs.values_list("pk", "phash").iterator(chunk_size=5000)
    }
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for pk, h in hashes.items():
        for band in range(BANDS):
            buckets[(band, (h >> (band * 8)) & 0xFF)].append(pk)

    parent = {pk: pk for pk in hashes}

    def root(pk: int) -> int:
        while parent[pk] != pk:
            parent[pk] = parent[parent[pk]]
            pk = parent[pk]
        return pk

    compared: set[tuple[int, int]] = set()
    for members in buckets.values():
        if len(members) < 2 or len(members) > MAX_BUCKET:
            continue
        for i, a in enumerate(members):
            ha = hashes[a]
            for b in members[i + 1 :]:
                pair = (a, b) if a < b else (b, a)
                if pair in compared:
                    continue
                compared.add(pair)
                if (ha ^ hashes[b]).bit_count() <= max_distance:
                    ra, rb = root(a), root(b)
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = defaultdict(list)
    for pk in hashes:
        groups[root(pk)].append(pk)
    result = [sorted(g) for g in groups.values() if len(g) > 1]
    result.sort(key=lambda g: (-len(g), g[0]))
    return result[:MAX_GROUPS]
