"""REST API for publishing: each channel's feeds (with ETag/If-Match), starting a publication
(answered at once with 202; the run is a background job), and reading publications — the
summary, the report of every product sent, removed or skipped (with the reasons and what to
fix), and the diff a dry run shows. Thin: feeds.py, runs.py and history.py do the work."""

from datetime import datetime
from typing import Any, Literal

from django.http import HttpResponse
from ninja import Header, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict

from folio.accounts.services import require
from folio.api import Pagination
from folio.publishing import feeds as service
from folio.publishing import history
from folio.publishing.models import Feed
from folio.versioning import expected_version, patch_and_version, shows_current

router = Router(tags=["publishing"])
IF_MATCH = Header(None, alias="If-Match", description='The ETag of the version you edited: W/"3"')


class In(Schema):
    model_config = ConfigDict(extra="forbid")


# --- feeds ------------------------------------------------------------------------------------


class LastRun(Schema):
    id: int
    status: str
    mode: str
    dry_run: bool
    created_at: datetime
    finished_at: datetime | None


class FeedOut(Schema):
    channel: str
    code: str
    name: str
    format: str
    locales: list[str]
    effective_locales: list[str]  # what is published: the feed's locales, else the channel's
    currency: str
    effective_currency: str  # the feed's, else the channel's first
    mapping: dict
    options: dict
    destination: dict
    connector: str
    selection: dict
    enabled: bool
    version: int
    created_at: datetime
    updated_at: datetime
    last_publication: LastRun | None = None

    @staticmethod
    def resolve_channel(obj):
        return obj.channel.code

    @staticmethod
    def resolve_effective_locales(obj):
        return service.effective_locales(obj)

    @staticmethod
    def resolve_effective_currency(obj):
        return service.effective_currency(obj)

    @staticmethod
    def resolve_last_publication(obj):
        return obj.publications.order_by("-id").first()


class FeedIn(In):
    code: str
    name: str = ""
    format: str
    locales: list[str] = []
    currency: str = ""
    mapping: dict[str, Any] = {}
    options: dict[str, Any] = {}
    destination: dict[str, Any] = {}
    connector: str = ""
    selection: dict[str, Any] = {}
    enabled: bool = True


class FeedPatch(In):
    name: str | None = None
    format: str | None = None
    locales: list[str] | None = None
    currency: str | None = None
    mapping: dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    destination: dict[str, Any] | None = None
    connector: str | None = None
    selection: dict[str, Any] | None = None
    enabled: bool | None = None
    version: int | None = None


def _with_etag(feed: Feed, response: HttpResponse) -> Feed:
    response["ETag"] = feed.etag
    return feed


@router.get(
    "/publishing/feeds", response=list[FeedOut], summary="Every feed of every channel (or one)"
)
def all_feeds(request, channel: str | None = Query(None)):
    require(request.user, "publishing.view_feed")
    return service.list_feeds(channel)


@router.get(
    "/publishing/channels/{channel}/feeds", response=list[FeedOut], summary="A channel's feeds"
)
def list_feeds(request, channel: str):
    require(request.user, "publishing.view_feed")
    return service.list_feeds(channel)


@router.post(
    "/publishing/channels/{channel}/feeds",
    response={201: FeedOut},
    summary="Add a feed to a channel (format, locales, currency, mapping, options, "
    "destination, connector, default selection; every setting is checked)",
)
def create_feed(request, response: HttpResponse, channel: str, payload: FeedIn):
    require(request.user, "publishing.add_feed")
    feed = service.create_feed(channel, payload.dict(), user=request.user)
    return Status(201, _with_etag(feed, response))


@router.get(
    "/publishing/channels/{channel}/feeds/{feed}",
    response=FeedOut,
    summary="One feed (ETag: its version)",
)
def get_feed(request, response: HttpResponse, channel: str, feed: str):
    require(request.user, "publishing.view_feed")
    return _with_etag(service.get_feed(channel, feed), response)


@router.patch(
    "/publishing/channels/{channel}/feeds/{feed}",
    response=FeedOut,
    summary="Change a feed (send the version you read, or If-Match; 409 when it changed "
    "meanwhile). Objects such as mapping are replaced whole.",
)
@shows_current(get_feed)
def update_feed(
    request,
    response: HttpResponse,
    channel: str,
    feed: str,
    payload: FeedPatch,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "publishing.change_feed")
    changes, version = patch_and_version(payload, if_match)
    changes = {k: v for k, v in changes.items() if v is not None}
    updated = service.update_feed(
        channel, feed, changes, expected_version=version, user=request.user
    )
    return _with_etag(updated, response)


@router.delete(
    "/publishing/channels/{channel}/feeds/{feed}",
    response={204: None},
    summary="Delete a feed with its publications and listings (If-Match: refuse if changed)",
)
@shows_current(get_feed)
def delete_feed(request, channel: str, feed: str, if_match: str | None = IF_MATCH):
    require(request.user, "publishing.delete_feed")
    service.delete_feed(
        channel, feed, expected_version=expected_version(None, if_match), user=request.user
    )
    return Status(204, None)


# --- publications -------------------------------------------------------------------------------


class ReasonCount(Schema):
    code: str
    label: str
    count: int


class PublicationOut(Schema):
    id: int
    channel: str
    feed: str
    format: str
    mode: str
    dry_run: bool
    status: str
    selection: dict
    base: int | None
    job: str | None
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    counts: dict
    reasons: list[ReasonCount]  # skip reasons: how many products each
    location: str
    files: list[dict]
    message: str

    @staticmethod
    def resolve_channel(obj):
        return obj.channel.code

    @staticmethod
    def resolve_feed(obj):
        return obj.feed.code

    @staticmethod
    def resolve_base(obj):
        return obj.base_id

    @staticmethod
    def resolve_job(obj):
        return str(obj.job_id) if obj.job_id else None

    @staticmethod
    def resolve_created_by(obj):
        return obj.created_by.username if obj.created_by_id else None

    @staticmethod
    def resolve_reasons(obj):
        return history.summary(obj)["reasons"]


class PublishIn(In):
    mode: Literal["incremental", "full"] = "incremental"
    dry_run: bool = False
    # One-off selection instead of the feed's: {"category"} | {"filter"} | {"skus"}
    selection: dict[str, Any] | None = None


@router.post(
    "/publishing/channels/{channel}/feeds/{feed}/publications",
    response={202: PublicationOut},
    summary="Publish a feed: answered at once with the pending publication; a background "
    "job does the work (follow the publication or its job)",
)
def start_publication(request, channel: str, feed: str, payload: PublishIn):
    require(request.user, "publishing.run_publication")
    from folio.publishing import runs

    found = service.get_feed(channel, feed)
    selection = (
        service.check_selection(found.channel, payload.selection) if payload.selection else None
    )
    publication = runs.start_publication(
        found, mode=payload.mode, dry_run=payload.dry_run, selection=selection, user=request.user
    )
    return Status(202, history.get_publication(publication.pk))


@router.get(
    "/publishing/publications",
    response=list[PublicationOut],
    summary="Publications, newest first (filter by channel, feed, status)",
)
@paginate(Pagination, ordering=("-id",))
def list_publications(
    request,
    channel: str | None = Query(None),
    feed: str | None = Query(None),
    status: str | None = Query(None),
    **kwargs,
):
    require(request.user, "publishing.view_publication")
    return history.publications(channel=channel, feed=feed, status=status)


@router.get(
    "/publishing/publications/{int:publication_id}",
    response=PublicationOut,
    summary="One publication: status, counts, skip reasons, files and where they are, job",
)
def get_publication(request, publication_id: int):
    require(request.user, "publishing.view_publication")
    return history.get_publication(publication_id)


class ItemOut(Schema):
    id: int
    sku: str
    locale: str
    action: str
    # [{code, message, attribute?, locale?, role?, asset_id?, field?, fix: {target, hint, …}}]
    reasons: list[dict]
    fix: str  # every reason's hint in one sentence (skipped products)
    product_version: int | None
    asset_versions: dict
    renditions: dict
    changes: list[dict]
    remote: dict

    @staticmethod
    def resolve_reasons(obj):
        return history.item_out(obj, obj.publication.channel.code)["reasons"]

    @staticmethod
    def resolve_fix(obj):
        return history.item_out(obj, obj.publication.channel.code)["fix"]


@router.get(
    "/publishing/publications/{int:publication_id}/items",
    response=list[ItemOut],
    summary="The report: each product sent, removed or skipped (filter by action and by skip "
    "reason); each skip reason says what to fix",
)
@paginate(Pagination, ordering=("id",))
def publication_items(
    request,
    publication_id: int,
    action: str | None = Query(None),
    reason: str | None = Query(None),
    **kwargs,
):
    require(request.user, "publishing.view_publication")
    publication = history.get_publication(publication_id)
    return history.items(publication, action=action, reason=reason).select_related(
        "publication__channel"
    )


class DiffOut(Schema):
    publication: int
    dry_run: bool
    mode: str
    status: str
    counts: dict[str, int]
    unchanged: int
    truncated: bool  # more entries than `limit` in some list (counts has them all)
    added: list[dict]
    updated: list[dict]  # [{sku, locale, changes: [{field, old, new}]}]
    removed: list[dict]


@router.get(
    "/publishing/publications/{int:publication_id}/diff",
    response=DiffOut,
    summary="What the publication changed at the destination (or would, for a dry run): "
    "added, updated with each field's old and new value, removed",
)
def publication_diff(request, publication_id: int, limit: int = history.DIFF_LIMIT):
    require(request.user, "publishing.view_publication")
    return history.diff(history.get_publication(publication_id), limit=limit)
