from datetime import datetime
from typing import Any, Literal

from django.contrib.auth import get_user_model
from django.http import HttpResponse, StreamingHttpResponse
from ninja import Header, Query, Router, Schema, Status
from ninja.pagination import paginate

from folio.accounts import auditlog, services
from folio.accounts.backends import token_scope
from folio.accounts.roles import ROLES
from folio.api import Pagination
from folio.versioning import patch_and_version, shows_current

router = Router(tags=["accounts"])
User = get_user_model()


class RoleOut(Schema):
    code: str
    label: str
    description: str
    grants: list[str]


class UserOut(Schema):
    id: int
    username: str
    email: str
    is_active: bool
    roles: list[str]
    groups: list[str]
    version: int

    @staticmethod
    def resolve_version(obj):
        return services.user_version(obj)

    @staticmethod
    def resolve_roles(obj):
        return services.user_roles(obj)

    @staticmethod
    def resolve_groups(obj):
        return sorted(g.name for g in obj.groups.all() if g.name not in ROLES)


class MeOut(UserOut):
    permissions_sample: dict[str, bool]
    # When the request came with a limited API token: the patterns it is limited to.
    token_permissions: list[str] | None

    @staticmethod
    def resolve_token_permissions(obj):
        scope = token_scope(obj)
        return list(scope) if scope is not None else None


class UserIn(Schema):
    username: str
    email: str = ""
    roles: list[str]
    groups: list[str] = []
    password: str | None = None


class UserPatch(Schema):
    roles: list[str] | None = None
    groups: list[str] | None = None
    is_active: bool | None = None
    password: str | None = None
    version: int | None = None


class TokenOut(Schema):
    id: int
    name: str
    user: str
    hint: str
    state: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    # The permission patterns the token is limited to; null: everything its owner may do.
    permissions: list[str] | None

    @staticmethod
    def resolve_user(obj):
        return obj.user.username

    @staticmethod
    def resolve_hint(obj):
        return str(obj)


class TokenIn(Schema):
    name: str
    expires_in_days: int | None = None
    # Limit the token to these permission patterns ("catalog.view_*"); each must be within
    # yours. Leave out for a token that may do everything you may.
    permissions: list[str] | None = None


class TokenCreated(TokenOut):
    token: str


@router.get("/me", response=MeOut, summary="The signed-in user or token owner, with roles")
def me(request):
    user = request.user
    user.permissions_sample = {
        p: user.has_perm(p)
        for p in ("catalog.change_product", "assets.approve_asset", "publishing.run_publication")
    }
    return user


@router.get("/roles", response=list[RoleOut], summary="Roles and the permissions they grant")
def roles(request):
    return [
        {"code": r.code, "label": r.label, "description": r.description, "grants": list(r.grants)}
        for r in ROLES.values()
    ]


@router.get("/users", response=list[UserOut], summary="Users (administrators)")
@paginate(Pagination, ordering=("id",))
def list_users(request, **kwargs):
    services.require(request.user, "accounts.view_user")
    return User.objects.select_related("edit_version").prefetch_related("groups")


@router.post("/users", response={201: UserOut}, summary="Create a user (administrators)")
def create_user(request, payload: UserIn):
    services.require(request.user, "accounts.add_user")
    user = services.create_user(
        payload.username,
        roles=payload.roles,
        email=payload.email,
        password=payload.password,
        groups=payload.groups,
    )
    return Status(201, user)


def _user_out(username: str, response: HttpResponse):
    user = services.get_user(username)
    user = User.objects.select_related("edit_version").prefetch_related("groups").get(pk=user.pk)
    response["ETag"] = f'W/"{services.user_version(user)}"'
    return user


@router.get("/users/{username}", response=UserOut, summary="One user (administrators)")
def get_user(request, username: str, response: HttpResponse):
    services.require(request.user, "accounts.view_user")
    return _user_out(username, response)


@router.patch(
    "/users/{username}",
    response=UserOut,
    summary="Change a user's roles, groups, password or active flag (administrators); send "
    "the version you read (body or If-Match): a stale one answers 409 with the current user",
)
@shows_current(get_user)
def update_user(
    request,
    username: str,
    payload: UserPatch,
    response: HttpResponse,
    if_match: str | None = Header(None, alias="If-Match"),
):
    services.require(request.user, "accounts.change_user")
    changes, expected = patch_and_version(payload, if_match)
    services.update_user(services.get_user(username), expected_version=expected, **changes)
    return _user_out(username, response)


@router.get(
    "/tokens",
    response=list[TokenOut],
    summary="API tokens: your own, or everyone's for administrators",
)
@paginate(Pagination, ordering=("-id",))
def list_tokens(request, **kwargs):
    return services.tokens_visible_to(request.user)


@router.post(
    "/tokens",
    response={201: TokenCreated},
    summary="Create an API token for yourself; the token text is shown only in this answer",
)
def create_token(request, payload: TokenIn):
    services.require(request.user, "accounts.manage_own_tokens")
    token, text = services.create_token(
        request.user,
        payload.name,
        expires_in_days=payload.expires_in_days,
        permissions=payload.permissions,
    )
    token.token = text
    return Status(201, token)


@router.delete("/tokens/{token_id}", response=TokenOut, summary="Revoke an API token")
def revoke_token(request, token_id: int):
    return services.revoke_token(token_id, by=request.user)


class AuditOut(Schema):
    id: int
    at: datetime
    username: str
    user_id: int | None
    token_id: int | None
    via: str
    ip: str | None
    action: str
    object_type: str
    object_id: str
    summary: str
    changes: dict[str, Any]


class AuditFilters(Schema):
    user: str | None = None
    action: str | None = None  # a prefix: "token." or "token.create"
    object_type: str | None = None
    object_id: str | None = None
    via: str | None = None
    since: str | None = None  # ISO date or date-time, inclusive
    until: str | None = None  # exclusive; a bare date includes that whole day


@router.get(
    "/audit",
    response=list[AuditOut],
    summary="The audit log, newest first (administrators); filter by user, action prefix, "
    "object, channel (via) and time",
)
@paginate(Pagination, ordering=("-id",))
def list_audit(request, filters: Query[AuditFilters], **kwargs):
    auditlog.require_reader(request.user)
    return auditlog.entries(**filters.dict())


@router.get(
    "/audit/export",
    summary="The audit log (filtered like GET /audit), oldest first, streamed as CSV or NDJSON "
    "(administrators)",
    openapi_extra={
        "responses": {
            200: {
                "description": "the entries: CSV with a header row, or one JSON object a line",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/x-ndjson": {"schema": {"type": "string"}},
                },
            }
        }
    },
)
def export_audit(request, filters: Query[AuditFilters], format: Literal["csv", "ndjson"] = "csv"):
    auditlog.require_reader(request.user)
    qs = auditlog.entries(**filters.dict())
    auditlog.record_export(format, filters.dict())
    content_type = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    response = StreamingHttpResponse(auditlog.export(qs, format), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="folio-audit.{format}"'
    return response
