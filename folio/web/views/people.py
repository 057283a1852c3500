"""People and access: the users (administrators), one user's roles, password, active flag,
scope and tokens, and "My account" (everyone: their role, what it permits, their password and
their API tokens).

Everything goes through folio.accounts.services and folio.accounts.scopes, as GET/POST/PATCH
/api/v1/users, PUT /api/v1/users/{username}/scope, /api/v1/tokens and `folio user` / `folio
token` do; the permission each page needs is the one the API checks. A token's text is only
in the answer to the POST that created it: never stored, never in a message or the log.
"""

from django.apps import apps
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from folio.accounts import auditlog, scopes, services
from folio.accounts.models import ApiToken
from folio.accounts.roles import ROLES, known_permissions
from folio.errors import FolioError, InvalidInput
from folio.web import nav
from folio.web.views.base import field_errors, int_param, page, posted_version

nav.register(nav.NavEntry("people", gettext_lazy("People"), "web:people", "accounts.view_user", 80))

USERS_PER_PAGE = 50
# The user's page shows the latest entries about them; the audit page has the rest.
RECENT_ENTRIES = 10
ACTION_WORDS = {
    "view": gettext_lazy("see"),
    "add": gettext_lazy("add"),
    "change": gettext_lazy("change"),
    "delete": gettext_lazy("delete"),
}


def role_labels(codes) -> list[str]:
    return [str(ROLES[c].label) for c in codes if c in ROLES]


def _roles_posted(post) -> list[str]:
    return [r for r in post.getlist("role") if r]


def _codes(text: str) -> list[str]:
    return [c.strip() for c in (text or "").replace("\n", ",").split(",") if c.strip()]


# --- what a user may do, in words --------------------------------------------------------------


def _model_names(app_label: str) -> dict[str, str]:
    try:
        config = apps.get_app_config(app_label)
    except LookupError:
        return {}
    return {m._meta.model_name: str(m._meta.verbose_name_plural) for m in config.get_models()}


def readable_permissions(user) -> list[dict]:
    """What `user` may do, by app: [{app, items: ["see: products, categories", "approve
    asset"]}]. Read from the same role map has_perm answers from (folio.accounts.roles)."""
    by_app: dict[str, list[str]] = {}
    for perm in sorted(known_permissions()):
        if user.has_perm(perm):
            app_label, codename = perm.split(".", 1)
            by_app.setdefault(app_label, []).append(codename)
    out = []
    for app_label, codenames in sorted(by_app.items()):
        models = _model_names(app_label)
        actions: dict[str, list[str]] = {}
        others = []
        for codename in codenames:
            action, _sep, model = codename.partition("_")
            if action in ACTION_WORDS and model in models:
                actions.setdefault(action, []).append(models[model])
            else:
                others.append(codename.replace("_", " "))
        items = [
            f"{ACTION_WORDS[a]}: {', '.join(sorted(actions[a]))}"
            for a in ACTION_WORDS
            if a in actions
        ]
        try:
            label = str(apps.get_app_config(app_label).verbose_name)
        except LookupError:
            label = app_label
        out.append({"app": label, "code": app_label, "items": items + others})
    return out


def token_permission_choices(user) -> list[dict]:
    """Permission patterns offered for a limited token: `app.action_*` where the user holds
    every permission it matches, else the single permissions. Each is within the user's own,
    so create_token accepts any of them."""
    known = sorted(known_permissions())
    held = [p for p in known if user.has_perm(p)]
    groups: dict[str, list[str]] = {}
    for perm in held:
        app_label, codename = perm.split(".", 1)
        groups.setdefault(f"{app_label}.{codename.partition('_')[0]}_*", []).append(perm)
    choices = []
    for pattern, perms in sorted(groups.items()):
        prefix = pattern[:-1]
        matched = [p for p in known if p.startswith(prefix)]
        if len(perms) > 1 and perms == matched:
            choices.append({"pattern": pattern, "covers": perms})
        else:
            choices.extend({"pattern": p, "covers": [p]} for p in perms)
    return choices


# --- the users ---------------------------------------------------------------------------------


def _with_scope(qs):
    from folio.assets.models import Collection
    from folio.catalog.models import Category

    return qs.prefetch_related(
        "groups",
        Prefetch("editor_categories", Category.objects.only("id", "code").order_by("code")),
        Prefetch("managed_collections", Collection.objects.only("id", "code").order_by("code")),
        Prefetch("agency_collections", Collection.objects.only("id", "code").order_by("code")),
    )


def _row(user) -> dict:
    roles = services.user_roles(user)
    collections = [c.code for c in user.managed_collections.all()] + [
        c.code for c in user.agency_collections.all()
    ]
    return {
        "user": user,
        "roles": role_labels(roles),
        "categories": [c.code for c in user.editor_categories.all()],
        "collections": collections,
    }


@page("accounts.view_user")
def users(request):
    """Every user with role, state, last sign-in and scope; filter by name, role, state."""
    q = (request.GET.get("q") or "").strip()
    role = request.GET.get("role") or ""
    state = request.GET.get("state") or ""
    qs = services.User.objects.order_by("username")
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(email__icontains=q))
    if role in ROLES:
        qs = qs.filter(groups__name=role)
    if state in ("active", "inactive"):
        qs = qs.filter(is_active=state == "active")
    paginator = Paginator(qs, USERS_PER_PAGE)
    page_obj = paginator.get_page(int_param(request.GET.get("page"), 1))
    # The page's users with their groups and scopes in four queries, whatever their number.
    people = _with_scope(services.User.objects.filter(pk__in=[u.pk for u in page_obj]))
    people = sorted(people, key=lambda u: u.username)
    context = {
        "section": "people",
        "rows": [_row(u) for u in people],
        "page_obj": page_obj,
        "filters": {"q": q, "role": role, "state": state},
        "roles": ROLES.values(),
        "can_add": request.user.has_perm("accounts.add_user"),
        "can_read_audit": request.user.has_perm(auditlog.VIEW_PERMISSION),
    }
    return render(request, "web/people/users.html", context)


@page("accounts.add_user", methods=("GET", "POST"))
def user_create(request):
    form = {"username": "", "email": "", "roles": []}
    context = {"section": "people", "roles": ROLES.values(), "errors": {}, "error": None}
    status = 200
    if request.method == "POST":
        form = {
            "username": request.POST.get("username", "").strip(),
            "email": request.POST.get("email", "").strip(),
            "roles": _roles_posted(request.POST),
        }
        try:
            user = services.create_user(
                form["username"],
                roles=form["roles"],
                email=form["email"],
                # Empty: an API-only user who cannot sign in until a password is set.
                password=request.POST.get("password") or None,
            )
        except FolioError as exc:
            status = exc.status
            context["error"] = exc.message
            context["errors"] = field_errors(exc.details, exc.message)
        else:
            messages.success(request, _("User %(name)s created.") % {"name": user.username})
            return redirect(reverse("web:person", args=[user.username]))
    context["form"] = form
    return render(request, "web/people/user_new.html", context, status=status)


def _person_context(request, user, **extra) -> dict:
    # Read afresh: after a refused (stale) write the page shows the account as it is now.
    user = _with_scope(
        services.User.objects.select_related("edit_version").filter(pk=user.pk)
    ).get()
    roles = services.user_roles(user)
    entries = []
    if request.user.has_perm(auditlog.VIEW_PERMISSION):
        entries = list(
            auditlog.entries(object_type="auth.user", object_id=str(user.pk))[:RECENT_ENTRIES]
        )
    return {
        "section": "people",
        "person": user,
        "row": _row(user),
        "person_roles": roles,
        "version": services.user_version(user),
        "roles": ROLES.values(),
        "scope": scopes.user_scope(user),
        "tokens": list(services.tokens_visible_to(request.user).filter(user=user)[:100]),
        "audit_entries": entries,
        "can_change": request.user.has_perm("accounts.change_user"),
        "can_read_audit": request.user.has_perm(auditlog.VIEW_PERMISSION),
        "errors": {},
        **extra,
    }


@page("accounts.view_user")
def person(request, username: str):
    user = services.get_user(username)
    return render(request, "web/people/user.html", _person_context(request, user))


def _person_action(request, username: str, where: str, action) -> object:
    """Run `action(user)`; on success back to the user's page with `action`'s message, on a
    refused change the page again with the reason next to the form `where` it came from. A
    form read from an older version of the account (someone changed it since) is refused
    with 409 and the page shows the account as it is now."""
    user = services.get_user(username)
    try:
        done = action(user)
    except FolioError as exc:
        context = _person_context(
            request,
            user,
            error_in=where,
            error=exc.message,
            errors=field_errors(exc.details, exc.message),
        )
        return render(request, "web/people/user.html", context, status=exc.status)
    messages.success(request, done)
    return redirect(reverse("web:person", args=[user.username]) + f"#{where}")


def _version(request) -> int | None:
    return posted_version(request.POST.get("version"))


@page("accounts.change_user", methods=("POST",))
def person_roles(request, username: str):
    roles = _roles_posted(request.POST)

    def change(user):
        services.update_user(user, roles=roles, expected_version=_version(request))
        labels = ", ".join(role_labels(roles)) or _("no role")
        return _("Roles of %(name)s: %(roles)s.") % {"name": user.username, "roles": labels}

    return _person_action(request, username, "roles", change)


@page("accounts.change_user", methods=("POST",))
def person_active(request, username: str):
    active = request.POST.get("active") == "1"

    def change(user):
        services.update_user(user, is_active=active, expected_version=_version(request))
        text = (
            _("%(name)s can sign in again.")
            if active
            else _("%(name)s is deactivated; their API tokens are revoked.")
        )
        return text % {"name": user.username}

    return _person_action(request, username, "access", change)


@page("accounts.change_user", methods=("POST",))
def person_password(request, username: str):
    password = request.POST.get("password") or ""

    def change(user):
        if not password:
            raise InvalidInput(_("Type the new password."), details={"field": "password"})
        services.update_user(user, password=password, expected_version=_version(request))
        if user.pk == request.user.pk:
            # A new password ends the user's sessions; the administrator's own stays.
            update_session_auth_hash(request, user)
        return _("Password of %(name)s set; tell them to change it.") % {"name": user.username}

    return _person_action(request, username, "password", change)


@page("accounts.change_user", methods=("POST",))
def person_scope(request, username: str):
    def change(user):
        scope = scopes.set_scope(
            user,
            categories=_codes(request.POST.get("categories", ""))
            if "categories" in request.POST
            else None,
            collections=_codes(request.POST.get("collections", ""))
            if "collections" in request.POST
            else None,
            expected_version=_version(request),
        )
        return _("Scope of %(name)s saved.") % {"name": scope["username"]}

    return _person_action(request, username, "scope", change)


# --- my account --------------------------------------------------------------------------------


def _account_context(request, **extra) -> dict:
    user = request.user
    roles = services.user_roles(user)
    return {
        "section": "account",
        "my_roles": [ROLES[c] for c in roles],
        "is_admin": user.is_superuser or "admin" in roles,
        "permissions": readable_permissions(user),
        "tokens": list(ApiToken.objects.filter(user=user).order_by("-id")[:100]),
        "choices": token_permission_choices(user),
        "can_make_tokens": user.has_perm("accounts.manage_own_tokens"),
        "token_form": {"name": "", "expires_in_days": "", "limit": "all", "patterns": []},
        "errors": {},
        "created": None,
        **extra,
    }


@page()
def account(request):
    return render(request, "web/people/account.html", _account_context(request))


@page("accounts.manage_own_tokens", methods=("POST",))
def token_create(request):
    form = {
        "name": request.POST.get("name", "").strip(),
        "expires_in_days": request.POST.get("expires_in_days", "").strip(),
        "limit": "some" if request.POST.get("limit") == "some" else "all",
        "patterns": [p for p in request.POST.getlist("permission") if p],
        "other": request.POST.get("other", ""),
    }
    try:
        days = None
        if form["expires_in_days"]:
            if not form["expires_in_days"].isdigit():
                raise InvalidInput(
                    _("Expires after: a whole number of days, e.g. 90."),
                    details={"field": "expires_in_days"},
                )
            days = int(form["expires_in_days"])
        permissions = None
        if form["limit"] == "some":
            permissions = form["patterns"] + _codes(form["other"])
            if not permissions:
                raise InvalidInput(
                    _("Choose at least one permission, or let the token do all you may."),
                    details={"field": "permissions"},
                )
        token, text = services.create_token(
            request.user, form["name"], expires_in_days=days, permissions=permissions
        )
    except FolioError as exc:
        context = _account_context(
            request,
            token_form=form,
            error=exc.message,
            errors=field_errors(exc.details, exc.message),
        )
        return render(request, "web/people/account.html", context, status=exc.status)
    # This answer is the only place the token's text ever appears; no cache may keep it.
    response = render(
        request,
        "web/people/account.html",
        _account_context(request, created={"token": token, "text": text}),
    )
    response["Cache-Control"] = "no-store"
    return response


@page(methods=("POST",))
def token_revoke(request, token_id: int):
    # revoke_token answers "not found" for somebody else's token unless the user may manage
    # every token (administrators), as DELETE /api/v1/tokens/{id} does.
    token = services.revoke_token(token_id, by=request.user)
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    if token.user_id != request.user.pk:
        return redirect(reverse("web:person", args=[token.user.username]) + "#tokens")
    return redirect(reverse("web:account") + "#tokens")


@page(methods=("POST",))
def password_change(request):
    user = request.user
    current = request.POST.get("current_password") or ""
    new = request.POST.get("new_password") or ""
    try:
        if not user.check_password(current):
            raise InvalidInput(
                _("Current password: that is not your password."),
                details={"field": "current_password"},
            )
        if new != (request.POST.get("new_password_again") or ""):
            raise InvalidInput(
                _("New password: the two entries differ."), details={"field": "password"}
            )
        services.set_password(user, new)
    except FolioError as exc:
        context = _account_context(
            request,
            password_error=exc.message,
            errors=field_errors(exc.details, exc.message),
        )
        return render(request, "web/people/account.html", context, status=exc.status)
    # Changing the password ends other sessions; this one stays signed in.
    update_session_auth_hash(request, user)
    messages.success(request, _("Your password is changed."))
    return redirect(reverse("web:account") + "#password")
