import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from folio.versioning import VersionedModel

TOKEN_PREFIX = "folio_"  # noqa: S105 - a public prefix, not a secret


def hash_secret(secret: str) -> str:
    # Tokens are 256-bit random strings, so a fast hash is enough: there is nothing to
    # brute-force, and the API can check one per request without a password-hash's cost.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the REST API. Only its hash is stored; the token is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    key_id = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Permission patterns ("catalog.view_*", "publishing.run_publication") this token is
    # limited to; None means everything its owner may do. A request made with the token may
    # do what both the owner (at that moment) and this list allow.
    permissions = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("manage_own_tokens", "Can create and revoke own API tokens")]

    def __str__(self):
        return f"{self.name} ({TOKEN_PREFIX}{self.key_id}_…)"

    @classmethod
    def new_secret(cls) -> tuple[str, str, str]:
        """(key_id, secret, full token). The key id finds the row; the secret proves it."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        return key_id, secret, f"{TOKEN_PREFIX}{key_id}_{secret}"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"


class UserVersion(VersionedModel):
    """The edit version of a user account: Django's User has no column for it, so a write to a
    user (roles, groups, password, active flag) bumps this row instead. Made on first use, so
    users created by `createsuperuser` or before versioning start at version 1 too."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="edit_version",
    )

    def __str__(self):
        return f"{self.user_id} v{self.version}"


class AuditIsAppendOnly(Exception):
    """Somebody tried to change or delete an audit entry."""


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditIsAppendOnly("the audit log is append-only: entries cannot be changed")

    def delete(self):
        raise AuditIsAppendOnly("the audit log is append-only: entries cannot be deleted")


class AuditEntry(models.Model):
    """One write (or sign-in, or token use): who (user and, for API calls, which token), when,
    what, from where.

    Append-only: rows are created by folio.accounts.audit.record and never changed or deleted.
    save()/delete() and the queryset refuse, and database triggers (migration 0002) refuse a
    raw UPDATE or DELETE. That is also why user and token are plain ids without a foreign-key
    constraint: deleting a user must not rewrite (SET NULL) or remove the entries naming them.
    A migration that rebuilds this table on SQLite drops its triggers; re-create them
    (tests/accounts/test_audit_log.py fails when they are missing).
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    username = models.CharField(max_length=150, blank=True)  # kept if the user is deleted
    token = models.ForeignKey(
        ApiToken,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    via = models.CharField(max_length=10)  # web, api, cli, job, system
    ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=60)  # e.g. token.create, schedule.update
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    changes = models.JSONField(default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or 'system'} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditIsAppendOnly("the audit log is append-only: entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditIsAppendOnly("the audit log is append-only: entries cannot be deleted")
