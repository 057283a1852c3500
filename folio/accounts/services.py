"""Users, roles and API tokens: the only writers of accounts state (API, CLI and seed use these)."""

import datetime
import hmac
import re
from fnmatch import fnmatchcase

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from folio.accounts import audit
from folio.accounts.backends import limit_to_token, token_scope
from folio.accounts.models import TOKEN_PREFIX, ApiToken, UserVersion, hash_secret
from folio.accounts.roles import ROLES, known_permissions
from folio.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from folio.versioning import APPLY_AGAIN, check_version, save_versioned

User = get_user_model()
# Writing last_used_at on every request would turn each read into a write; once a minute
# is precise enough to tell which tokens are in use.
TOKEN_TOUCH_INTERVAL = datetime.timedelta(minutes=1)


def _check_roles(roles: list[str]) -> list[str]:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InvalidInput(
            f"unknown role {', '.join(unknown)}; roles are {', '.join(ROLES)}",
            details={"field": "roles", "unknown": unknown},
        )
    return sorted(set(roles))


def _check_password(password: str, user=None) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(
            "password rejected: " + " ".join(exc.messages), details={"field": "password"}
        ) from None


def user_roles(user) -> list[str]:
    return sorted(g.name for g in user.groups.all() if g.name in ROLES)


@transaction.atomic
def create_user(
    username: str,
    *,
    roles: list[str],
    email: str = "",
    password: str | None = None,
    groups: list[str] = (),
) -> "User":
    username = (username or "").strip()
    if not username:
        raise InvalidInput("username is required", details={"field": "username"})
    roles = _check_roles(roles)
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"a user named {username!r} exists already", details={"field": "username"})
    user = User(
        username=username, email=email, is_staff="admin" in roles, is_superuser="admin" in roles
    )
    if password is None:
        user.set_unusable_password()
    else:
        _check_password(password, user)
        user.set_password(password)
    user.save()
    _set_groups(user, roles, groups)
    audit.record(
        "user.create",
        user,
        summary=f"user {username} ({', '.join(roles)})",
        changes={"roles": roles, "groups": list(groups)},
    )
    return user


def _set_groups(user, roles, extra_groups):
    names = set(roles) | set(extra_groups)
    groups = [Group.objects.get_or_create(name=n)[0] for n in sorted(names)]
    user.groups.set(groups)
    # RoleBackend caches the role patterns on the user object; drop them so this very object
    # (e.g. request.user after changing one's own roles) answers has_perm with the new roles.
    user.__dict__.pop("_folio_role_patterns", None)
    getattr(user, "_prefetched_objects_cache", {}).pop("groups", None)


def user_version(user) -> int:
    """The version of a user's account an edit is based on (1 until first changed)."""
    try:
        return user.edit_version.version
    except UserVersion.DoesNotExist:
        return 1


def user_snapshot(user) -> dict:
    return {
        "username": user.username,
        "email": user.email,
        "is_active": user.is_active,
        "roles": user_roles(user),
        "version": user_version(user),
    }


@transaction.atomic
def update_user(
    user,
    *,
    roles: list[str] | None = None,
    groups: list[str] | None = None,
    is_active: bool | None = None,
    password: str | None = None,
    expected_version: int | None = None,
) -> "User":
    """Change a user's roles, groups, password and active flag together, as one edit.

    With `expected_version` (what the editor read), an account changed since is refused as a
    stale write and nothing is changed; without, the edit applies and still counts as one."""
    check_admin_remains(user, roles=roles, active=is_active)
    UserVersion.objects.get_or_create(user=user)
    row = UserVersion.objects.select_for_update().get(user=user)
    check_version(
        row,
        expected_version,
        f"user {user.username}",
        lambda _row: user_snapshot(user),
        then=APPLY_AGAIN,
    )
    if roles is not None or groups is not None:
        _set_roles(user, roles if roles is not None else user_roles(user), groups)
    if password is not None:
        _set_password(user, password)
    if is_active is not None:
        _set_active(user, is_active)
    save_versioned(row, expected_version, [])
    user.edit_version = row
    return user


def set_roles(user, roles: list[str], groups: list[str] | None = None) -> "User":
    return update_user(user, roles=roles, groups=groups)


def set_password(user, password: str) -> None:
    update_user(user, password=password)


def set_active(user, active: bool) -> None:
    update_user(user, is_active=active)


def _set_roles(user, roles: list[str], groups: list[str] | None = None) -> "User":
    roles = _check_roles(roles)
    before = user_roles(user)
    extra = (
        groups if groups is not None else [g.name for g in user.groups.all() if g.name not in ROLES]
    )
    _set_groups(user, roles, extra)
    user.is_staff = user.is_superuser = "admin" in roles
    user.save(update_fields=["is_staff", "is_superuser"])
    audit.record(
        "user.set_roles",
        user,
        summary=f"roles of {user.username}",
        changes={"roles": [before, roles]},
    )
    return user


def _set_password(user, password: str) -> None:
    _check_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    audit.record("user.set_password", user, summary=f"password of {user.username} changed")


def _set_active(user, active: bool) -> None:
    user.is_active = active
    user.save(update_fields=["is_active"])
    if not active:
        ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    audit.record("user.activate" if active else "user.deactivate", user)


def get_user(username: str):
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise NotFound(f"no user named {username!r}") from None


PERMISSION_PATTERN = re.compile(r"^(\*|[a-z0-9_*]+\.[a-z0-9_*]+)$")
MAX_TOKEN_PERMISSIONS = 50


def check_token_permissions(user, requested) -> list[str] | None:
    """The permission patterns a new token of `user` is limited to (None: all of the
    owner's). Each must mean at least one permission, and none may reach beyond what `user`
    may do: a token never gives its holder more than its owner has."""
    if requested is None:
        return None
    if isinstance(requested, str) or not isinstance(requested, list | tuple):
        raise InvalidInput(
            'permissions must be a list of permission patterns, e.g. ["catalog.view_*"]',
            details={"field": "permissions"},
        )
    patterns = sorted({str(p).strip() for p in requested if str(p).strip()})
    if not patterns:
        return None
    if len(patterns) > MAX_TOKEN_PERMISSIONS:
        raise InvalidInput(
            f"a token takes at most {MAX_TOKEN_PERMISSIONS} permission patterns",
            details={"field": "permissions"},
        )
    bad = [p for p in patterns if len(p) > 100 or not PERMISSION_PATTERN.match(p)]
    if bad:
        raise InvalidInput(
            f"not a permission pattern: {', '.join(bad)} (write app.permission, * as a "
            "wildcard: catalog.view_*, publishing.run_publication)",
            details={"field": "permissions", "invalid": bad},
        )
    known = known_permissions()
    granted = {g for role in ROLES.values() for g in role.grants}
    meaningless, beyond, examples = [], [], {}
    for pattern in patterns:
        matched = sorted(p for p in known if fnmatchcase(p, pattern))
        if not matched and pattern in granted:
            # A role grants it (e.g. search.view_* in every reader's role) although no
            # permission checked today matches it: the owner must hold it as a pattern.
            matched = [pattern]
        if not matched:
            meaningless.append(pattern)
            continue
        missing = [p for p in matched if not user.has_perm(p)]
        if missing:
            beyond.append(pattern)
            examples[pattern] = missing[:5]
    if meaningless:
        patterns = (
            f"permission pattern {meaningless[0]} matches"
            if len(meaningless) == 1
            else f"permission patterns {', '.join(meaningless)} match"
        )
        raise InvalidInput(
            f"{patterns} no permission (see GET /api/v1/roles for what roles grant)",
            details={"field": "permissions", "unknown": meaningless},
        )
    if beyond:
        shown = "; ".join(f"{p} (e.g. {', '.join(examples[p])})" for p in beyond)
        raise InvalidInput(
            f"a token cannot have permissions its owner {user.username} lacks: {shown}",
            details={"field": "permissions", "beyond_owner": beyond, "examples": examples},
        )
    return patterns


@transaction.atomic
def create_token(
    user,
    name: str,
    *,
    expires_in_days: int | None = None,
    permissions: list[str] | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `user`; returns the row and the token text, which is never shown again.

    `permissions` limits the token (None: everything its owner may do). A token made with a
    limited token is limited at least as much: without `permissions` it gets the same list.
    """
    name = (name or "").strip()
    if not name:
        raise InvalidInput("a token needs a name (what it is for)", details={"field": "name"})
    if len(name) > 100:
        raise InvalidInput("token name is longer than 100 characters", details={"field": "name"})
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise InvalidInput(
            "expires_in_days must be between 1 and 3650", details={"field": "expires_in_days"}
        )
    permissions = check_token_permissions(user, permissions)
    if permissions is None and token_scope(user) is not None:
        permissions = list(token_scope(user))
    key_id, secret, text = ApiToken.new_secret()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        key_id=key_id,
        secret_hash=hash_secret(secret),
        expires_at=timezone.now() + datetime.timedelta(days=expires_in_days)
        if expires_in_days
        else None,
        permissions=permissions,
    )
    audit.record(
        "token.create",
        token,
        summary=f"token {name!r} for {user.username}",
        changes={
            "user": user.username,
            "expires_at": str(token.expires_at or ""),
            "permissions": permissions,
        },
    )
    return token, text


@transaction.atomic
def revoke_token(token_id: int, *, by) -> ApiToken:
    token = ApiToken.objects.select_related("user").filter(pk=token_id).first()
    if token is None:
        raise NotFound(f"no API token with id {token_id}")
    if token.user_id != by.pk and not by.has_perm("accounts.manage_tokens"):
        # Do not reveal that somebody else's token exists.
        raise NotFound(f"no API token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            "token.revoke", token, summary=f"token {token.name!r} of {token.user.username}"
        )
    return token


def tokens_visible_to(user):
    qs = ApiToken.objects.select_related("user")
    return qs if user.has_perm("accounts.manage_tokens") else qs.filter(user=user)


def authenticate_token(text: str, *, ip: str | None = None):
    """(user, token) for a valid bearer token, else None. Constant-time on the secret.

    The user comes back limited to the token's permissions (backends.limit_to_token).
    """
    if not text or not text.startswith(TOKEN_PREFIX):
        return None
    key_id, sep, secret = text[len(TOKEN_PREFIX) :].partition("_")
    if not sep or not key_id or not secret:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .prefetch_related("user__groups")
        .filter(key_id=key_id)
        .first()
    )
    if token is None:
        hmac.compare_digest(hash_secret(secret), "0" * 64)  # same work either way
        return None
    if not hmac.compare_digest(hash_secret(secret), token.secret_hash):
        return None
    if not token.is_active or not token.user.is_active:
        return None
    _touch(token, ip)
    limit_to_token(token.user, token)
    return token.user, token


def _touch(token: ApiToken, ip: str | None) -> None:
    """Record that the token is in use: last_used_at and a token.use audit entry, at most
    once a minute. The update only succeeds for the request that saw the old last_used_at,
    so concurrent requests (other threads or servers) leave one entry, not one each."""
    now = timezone.now()
    last = token.last_used_at
    if last is not None and now - last <= TOKEN_TOUCH_INTERVAL:
        return
    rows = ApiToken.objects.filter(pk=token.pk)
    rows = rows.filter(last_used_at=last) if last else rows.filter(last_used_at__isnull=True)
    with transaction.atomic():
        if rows.update(last_used_at=now):
            token.last_used_at = now
            with audit.acting_as(token.user, token=token, via="api", ip=ip):
                audit.record(
                    "token.use",
                    token,
                    summary=f"token {token.name!r} of {token.user.username} in use",
                )


def require(user, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied(
            f"your role does not allow this ({perm})", details={"permission": perm}
        )


def check_admin_remains(user, *, roles: list[str] | None = None, active: bool | None = None):
    """Refuse taking the admin role from, or deactivating, the last active administrator:
    nobody would be left to manage users from the web UI or the API."""
    losing = (roles is not None and "admin" not in roles) or active is False
    if not losing or not user.is_active or not (user.is_superuser or "admin" in user_roles(user)):
        return
    from django.db.models import Q

    admins = User.objects.filter(is_active=True).filter(
        Q(is_superuser=True) | Q(groups__name="admin")
    )
    # Two administrators demoting each other at once: both lock every administrator's edit
    # row, in one order (no deadlock), so the second waits for the first and sees its result.
    locked = {*admins.values_list("pk", flat=True), user.pk}
    for pk in locked:
        UserVersion.objects.get_or_create(user_id=pk)
    list(UserVersion.objects.select_for_update().filter(user__in=locked).order_by("user_id"))
    others = admins.exclude(pk=user.pk)
    if not others.exists():
        raise Conflict(
            f"{user.username} is the last active administrator; make someone else an "
            "administrator first",
            details={"field": "roles" if roles is not None else "is_active"},
        )
