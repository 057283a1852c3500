"""Audit entries for signing in and out (Django's auth signals), and the guard that keeps a
token-limited user object (backends.limit_to_token) from being saved."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import pre_save

from folio.accounts import audit
from folio.accounts.middleware import client_ip


def _ip(request):
    return client_ip(request) if request is not None else None


def logged_in(sender, request, user, **kwargs):
    with audit.acting_as(user, via="web", ip=_ip(request)):
        audit.record("auth.login", user, summary=f"{user.username} signed in")


def login_failed(sender, credentials, request=None, **kwargs):
    # Django has already masked the password in `credentials`; only the name tried is kept.
    tried = str(credentials.get("username") or "")[:150]
    with audit.acting_as(None, via="web", ip=_ip(request)):
        audit.record(
            "auth.login_failed",
            object_type="auth.user",
            summary=f"failed sign-in as {tried!r}"[:300],
            changes={"username": tried},
        )


def logged_out(sender, request, user, **kwargs):
    if user is None:  # signing out without being signed in
        return
    with audit.acting_as(user, via="web", ip=_ip(request)):
        audit.record("auth.logout", user, summary=f"{user.username} signed out")


def refuse_saving_limited_user(sender, instance, update_fields=None, **kwargs):
    # A token-limited user object has is_superuser switched off in memory only; saving it
    # whole would write that to the database.
    if getattr(instance, "_folio_token_scope", None) is not None and (
        update_fields is None or "is_superuser" in update_fields
    ):
        raise RuntimeError(
            f"user {instance.username} is limited to an API token's permissions for this "
            "request; load the user afresh to save it"
        )


def connect():
    user_logged_in.connect(logged_in, dispatch_uid="folio.audit.login")
    user_login_failed.connect(login_failed, dispatch_uid="folio.audit.login_failed")
    user_logged_out.connect(logged_out, dispatch_uid="folio.audit.logout")
    pre_save.connect(
        refuse_saving_limited_user, sender=get_user_model(), dispatch_uid="folio.limited_user"
    )
