"""Finding assets: filters, full-text search, and who sees which assets.

Agency users see only assets in the collections they are given; every list and detail goes
through `visible_assets(user)`. Text search uses the search app's index, which is kept in step
here: a receiver of asset_changed reindexes the assets a writer names, inside its transaction.
"""

import datetime
from collections.abc import Iterable

from django.db.models import F, Q, QuerySet
from django.dispatch import receiver
from django.utils import timezone

from folio.accounts.services import user_roles
from folio.assets.models import Asset, AssetVersion, Collection, Tag
from folio.assets.signals import asset_changed
from folio.errors import InvalidInput, NotFound
from folio.search import index as search_index

ORIENTATIONS = ("landscape", "portrait", "square")
# Embedded metadata worth finding an asset by (EXIF/IPTC/XMP names, any nesting, any case).
EMBEDDED_KEYS = frozenset(
    {
        "keywords",
        "subject",
        "creator",
        "artist",
        "author",
        "by-line",
        "byline",
        "copyright",
        "copyrightnotice",
        "copyright_notice",
        "rights",
        "credit",
        "title",
        "description",
        "imagedescription",
        "caption",
        "caption-abstract",
        "headline",
        "xpkeywords",
        "iptc_title",
        "xmp_title",
        "xmp_description",
        "image_description",
        "xptitle",
        "xpsubject",
        "xpauthor",
        "xpcomment",
    }
)
MAX_EMBEDDED_CHARS = 20_000
INDEX_BATCH = 500


def is_restricted(user) -> bool:
    """An agency user, who sees only the collections given to it."""
    if user is None or user.is_superuser or user.has_perm("assets.change_asset"):
        return False
    return "agency" in user_roles(user)


def visible_assets(user, qs: QuerySet | None = None) -> QuerySet:
    qs = Asset.objects.all() if qs is None else qs
    if is_restricted(user):
        mine = Collection.objects.filter(agencies=user).values("pk")
        qs = qs.filter(pk__in=Asset.objects.filter(collections__in=mine).values("pk"))
    return qs


def visible_collections(user) -> QuerySet:
    qs = Collection.objects.all()
    return qs.filter(agencies=user) if is_restricted(user) else qs


def get_asset(asset_id: int, user=None) -> Asset:
    qs = Asset.objects.select_related("current_version", "created_by")
    asset = (visible_assets(user, qs) if user is not None else qs).filter(pk=asset_id).first()
    if asset is None:
        raise NotFound(f"no asset {asset_id}", details={"asset_id": asset_id})
    return asset


def _list(value) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, str | int):
        return [value]
    return [v for v in value if v not in (None, "")]


def _choices(field: str, values, allowed) -> list[str]:
    values = [str(v) for v in _list(values)]
    wrong = [v for v in values if v not in allowed]
    if wrong:
        raise InvalidInput(
            f"{field}: {wrong[0]!r} is not one of {', '.join(allowed)}",
            details={"field": field, "value": wrong[0], "allowed": list(allowed)},
        )
    return values


def filter_assets(
    *,
    user=None,
    q: str | None = None,
    type=None,
    kind=None,
    tags=None,
    collections=None,
    status=None,
    expires_within_days: int | None = None,
    expired: bool | None = None,
    size_min: int | None = None,
    size_max: int | None = None,
    orientation: str | None = None,
    created_since: datetime.datetime | None = None,
    updated_since: datetime.datetime | None = None,
    at: datetime.datetime | None = None,
) -> QuerySet:
    """Assets matching every filter given; a filter taking several values matches any of them
    (tags=["winter", "shoes"]: tagged winter or shoes). Sizes are of the current version."""
    at = at or timezone.now()
    qs = Asset.objects.all() if user is None else visible_assets(user)
    types = _choices("type", type, Asset.Type.values)
    if types:
        qs = qs.filter(type__in=types)
    kinds = _choices("kind", kind, Asset.Kind.values)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    statuses = _choices("status", status, Asset.Status.values)
    if statuses:
        qs = qs.filter(status__in=statuses)
    tag_names = [normalise_tag(t) for t in _list(tags)]
    if tag_names:
        # Case-insensitive: tags written before normalisation (uploads, imports) still match.
        wanted = Q()
        for name in tag_names:
            wanted |= Q(name__iexact=name)
        tagged = Asset.objects.filter(tags__in=Tag.objects.filter(wanted)).values("pk")
        qs = qs.filter(pk__in=tagged)
    codes = [str(c) for c in _list(collections)]
    if codes:
        qs = qs.filter(pk__in=Asset.objects.filter(collections__code__in=codes).values("pk"))
    if expires_within_days is not None:
        if expires_within_days < 0:
            raise InvalidInput(
                "expires_within_days: a number of days from now, 0 or more",
                details={"field": "expires_within_days", "value": expires_within_days},
            )
        end = at + datetime.timedelta(days=expires_within_days)
        qs = qs.filter(expires_at__gt=at, expires_at__lte=end)
    if expired is True:
        qs = qs.filter(expires_at__lte=at)
    elif expired is False:
        qs = qs.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))
    if size_min is not None:
        qs = qs.filter(current_version__size__gte=size_min)
    if size_max is not None:
        qs = qs.filter(current_version__size__lte=size_max)
    if orientation:
        orientation = _choices("orientation", orientation, ORIENTATIONS)[0]
        width, height = F("current_version__width"), F("current_version__height")
        qs = qs.filter(current_version__width__isnull=False, current_version__height__isnull=False)
        if orientation == "landscape":
            qs = qs.filter(current_version__width__gt=height)
        elif orientation == "portrait":
            qs = qs.filter(current_version__height__gt=width)
        else:
            qs = qs.filter(current_version__width=height)
    if created_since is not None:
        qs = qs.filter(created_at__gte=created_since)
    if updated_since is not None:
        qs = qs.filter(updated_at__gte=updated_since)
    if q and q.strip():
        qs = qs.filter(pk__in=search_index.matching_ids(q, "asset"))
    return qs


def normalise_tag(name) -> str:
    """Tags compare as typed by people: case, surrounding and repeated spaces ignored."""
    return " ".join(str(name or "").split()).lower()


def tags_named(names: list[str]) -> list[Tag]:
    """The tags of these (normalised) names, created when missing. A tag written before
    normalisation ("Coffee" by an import) is reused rather than doubled by case."""
    if not names:
        return []
    wanted = Q()
    for name in names:
        wanted |= Q(name__iexact=name)
    found = {normalise_tag(t.name): t for t in Tag.objects.filter(wanted).order_by("id")}
    missing = [n for n in names if n not in found]
    if missing:
        Tag.objects.bulk_create([Tag(name=n) for n in missing], ignore_conflicts=True)
        found.update({t.name: t for t in Tag.objects.filter(name__in=missing)})
    return [found[n] for n in names if n in found]


# --- search index ---------------------------------------------------------------------------


def _embedded_text(metadata, out: list[str], budget: list[int], key_matches=False) -> None:
    if budget[0] <= 0:
        return
    if isinstance(metadata, dict):
        for key, value in metadata.items():
            name = str(key).lower().rsplit(":", 1)[-1]
            _embedded_text(value, out, budget, key_matches or name in EMBEDDED_KEYS)
    elif isinstance(metadata, list | tuple):
        for value in metadata:
            _embedded_text(value, out, budget, key_matches)
    elif key_matches and isinstance(metadata, str) and metadata.strip():
        text = metadata.strip()[: budget[0]]
        budget[0] -= len(text)
        out.append(text)


def search_document(
    asset: Asset, version: AssetVersion | None, tag_names: Iterable[str] | None = None
) -> search_index.SearchDoc:
    """`tag_names` when the caller knows them (else the asset's tags are read)."""
    identifiers = []
    body = [asset.description, *(str(t) for t in (asset.alt_text or {}).values())]
    # Sorted (as Tag's ordering sorts them when read), whatever order the caller has.
    body += sorted(tag_names) if tag_names is not None else [t.name for t in asset.tags.all()]
    body += [asset.creator, asset.copyright, asset.credit]
    if version is not None:
        identifiers.append(version.filename)
        stem = version.filename.rsplit(".", 1)[0]
        body.append(stem)
        embedded: list[str] = []
        _embedded_text(version.metadata or {}, embedded, [MAX_EMBEDDED_CHARS])
        body += embedded
    return search_index.SearchDoc(
        kind="asset",
        ref_id=asset.pk,
        identifiers=identifiers,
        title=asset.title,
        body="\n".join(b for b in body if b),
        extra={"type": asset.type, "kind": asset.kind, "status": asset.status},
    )


def reindex(asset_ids: Iterable[int]) -> None:
    """Bring the search documents of these assets up to date (removing deleted ones)."""
    ids = sorted({int(i) for i in asset_ids})
    for start in range(0, len(ids), INDEX_BATCH):
        chunk = ids[start : start + INDEX_BATCH]
        assets = list(
            Asset.objects.filter(pk__in=chunk)
            .select_related("current_version")
            .prefetch_related("tags")
        )
        search_index.index_documents(search_document(a, a.current_version) for a in assets)
        gone = set(chunk) - {a.pk for a in assets}
        if gone:
            search_index.remove_documents("asset", gone)


@receiver(asset_changed, dispatch_uid="folio.assets.browse.reindex")
def _reindex_changed(sender, asset_ids=(), created=None, **kwargs):
    # A just-created asset is indexed from the sender's instances: reading it back (asset,
    # current version, tags) cost about as much as writing its document.
    created = created or {}
    fresh = [
        search_document(asset, asset.current_version, tag_names)
        for asset, tag_names in created.values()
    ]
    if fresh:
        search_index.index_documents(fresh)
    reindex(set(asset_ids) - set(created))
