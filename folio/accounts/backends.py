from fnmatch import fnmatchcase

from django.contrib.auth.backends import ModelBackend

from folio.accounts.roles import grants_permission, role_grants


def limit_to_token(user_obj, token) -> None:
    """Limit what this (per-request) user object may do to what `token` allows.

    A request made with a token may do what both its owner and the token allow; the owner's
    roles are read for the request, so a role taken away from the owner is gone from their
    tokens too. An administrator's limited token is not an administrator's: is_superuser is
    turned off on this in-memory object (Django's User.has_perm answers True for superusers
    before asking any backend, and code such as the approval workflow reads it), and saving
    the object is refused so that never reaches the database.
    """
    if not token.permissions:
        return
    user_obj._folio_token_scope = tuple(token.permissions)
    user_obj._folio_owner_superuser = user_obj.is_superuser
    user_obj.is_superuser = False


def token_scope(user_obj) -> tuple[str, ...] | None:
    return getattr(user_obj, "_folio_token_scope", None)


class RoleBackend(ModelBackend):
    """Django's password backend, with permissions computed from role groups.

    `user.has_perm("catalog.change_product")` works everywhere (views, API, admin) and reads
    the role map in roles.py instead of per-user permission rows. For a request made with a
    limited API token, the answer is also limited to the token's permissions.
    """

    def _patterns(self, user_obj):
        cache = getattr(user_obj, "_folio_role_patterns", None)
        if cache is None:
            # .all() rather than values_list: it uses groups prefetched with the user (API
            # token authentication does), so one request reads them once.
            names = [g.name for g in user_obj.groups.all()]
            cache = role_grants(names)
            user_obj._folio_role_patterns = cache
        return cache

    def has_perm(self, user_obj, perm, obj=None):
        if not user_obj.is_active:
            return False
        scope = token_scope(user_obj)
        if scope is not None:
            if not grants_permission(scope, perm):
                return False
            if getattr(user_obj, "_folio_owner_superuser", False):
                return True
        if user_obj.is_superuser:
            return True
        return grants_permission(self._patterns(user_obj), perm)

    def has_module_perms(self, user_obj, app_label):
        if not user_obj.is_active:
            return False
        scope = token_scope(user_obj)
        if scope is not None and not any(fnmatchcase(app_label, p.split(".", 1)[0]) for p in scope):
            return False
        if user_obj.is_superuser or getattr(user_obj, "_folio_owner_superuser", False):
            return True
        return any(p == "*" or p.startswith(f"{app_label}.") for p in self._patterns(user_obj))
