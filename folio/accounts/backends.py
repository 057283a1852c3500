from django.contrib.auth.backends import ModelBackend

from folio.accounts.roles import grants_permission, role_grants


class RoleBackend(ModelBackend):
    """Django's password backend, with permissions computed from role groups.

    `user.has_perm("catalog.change_product")` works everywhere (views, API, admin) and reads
    the role map in roles.py instead of per-user permission rows.
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
        if user_obj.is_superuser:
            return True
        return grants_permission(self._patterns(user_obj), perm)

    def has_module_perms(self, user_obj, app_label):
        if not user_obj.is_active:
            return False
        return user_obj.is_superuser or any(
            p == "*" or p.startswith(f"{app_label}.") for p in self._patterns(user_obj)
        )
