"""Optimistic concurrency for every editable object.

Each versioned row carries a `version` number. A write names the version it was based on; the
UPDATE only matches when that is still the current version, so a stale write changes nothing
and is answered with 409 and the current state. The API exposes the version as an ETag and
accepts it back in If-Match (or as `version` in the body).
"""

import copy
import functools
import importlib
import json
import re
from typing import Any

from django.db import models, transaction
from django.db.models import F

from folio.errors import InvalidInput, StaleWrite


class VersionedModel(models.Model):
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'


def parse_if_match(header: str | None) -> int | None:
    """The version an If-Match header names: `W/"3"`, `"3"` or `3`; None when absent."""
    if not header or header.strip() == "*":
        return None
    raw = header.strip()
    if raw.startswith("W/"):
        raw = raw[2:]
    raw = raw.strip('"')
    if not raw.isdigit():
        raise InvalidInput(
            'If-Match must carry the ETag of the version you edited, e.g. W/"3"',
            details={"header": "If-Match", "value": header},
        )
    return int(raw)


_OMITTED = object()
APPLY_AGAIN = "reload it and apply your change again"


def stale_write(
    what: str,
    expected_version: int,
    current_version: int,
    current: Any = _OMITTED,
    *,
    then: str = "reload it and try again",
) -> StaleWrite:
    """The one refusal of a write based on another version than the stored one: what, the
    version the caller saw, the one stored now, and (when given) the current state to merge
    from."""
    details = {"current_version": current_version}
    if current is not _OMITTED:
        details["current"] = current
    return StaleWrite(
        f"{what} was changed by someone else (you saw version {expected_version}, it is now at "
        f"{current_version}); {then}",
        details=details,
    )


def check_version(
    instance, expected_version: int | None, what: str, snapshot=None, **kwargs
) -> None:
    """Refuse a write the caller based on another version (deletes and other actions that do
    not go through save_versioned); None: the caller did not say. `kwargs`: stale_write's."""
    if expected_version is not None and instance.version != expected_version:
        current = snapshot(instance) if snapshot else _OMITTED
        raise stale_write(what, expected_version, instance.version, current, **kwargs)


def save_versioned(
    instance: VersionedModel,
    expected_version: int | None,
    fields: list[str],
    snapshot=None,
) -> VersionedModel:
    """Write `fields` of `instance` only if the stored row is still at `expected_version`.

    `expected_version=None` means the caller did not say (a last-writer-wins write); the
    version is still bumped so later conditional writes see the change. `snapshot` turns the
    current row into the details of a StaleWrite so the caller can merge and retry.
    """
    model = type(instance)
    with transaction.atomic():
        qs = model._default_manager.filter(pk=instance.pk)
        if expected_version is not None:
            qs = qs.filter(version=expected_version)
        values: dict[str, Any] = {f: getattr(instance, f) for f in fields}
        # auto_now is not applied by queryset.update(); keep updated_at truthful.
        instance.updated_at = models.functions.Now()
        values["updated_at"] = models.functions.Now()
        updated = qs.update(version=F("version") + 1, **values)
        if updated == 0:
            current = model._default_manager.filter(pk=instance.pk).first()
            if current is None:
                raise StaleWrite(f"{model._meta.verbose_name} was deleted meanwhile")
            raise stale_write(
                model._meta.verbose_name,
                expected_version,
                current.version,
                snapshot(current) if snapshot else None,
                then=APPLY_AGAIN,
            )
        instance.refresh_from_db(fields=["version", "updated_at"])
    return instance


def expected_version(body_version: int | None, if_match: str | None) -> int | None:
    """The version a write is based on: `version` in the body wins over an If-Match header."""
    return body_version if body_version is not None else parse_if_match(if_match)


def patch_and_version(payload, if_match: str | None) -> tuple[dict, int | None]:
    """A PATCH body's fields that were sent, and the version it is based on."""
    changes = payload.dict(exclude_unset=True)
    return changes, expected_version(changes.pop("version", None), if_match)


_PATH_PARAM = re.compile(r"{(?:\w+:)?(\w+)}")


def current_as_get(request, get_view, **path) -> Any:
    """What the GET endpoint `get_view` answers now for `path` (its JSON body), or None when
    it does not answer 200 (the object was deleted meanwhile)."""
    from folio.api import api

    # The operation as declared (not yet bound to the API): run it bound, without the checks
    # the write already passed (authentication; the view itself checks permissions).
    operation = copy.copy(get_view._ninja_operation)
    operation.api = api
    operation.auth_callbacks = []
    operation.throttle_objects = []
    response = operation.run(request, **path)
    if response.status_code != 200:
        return None
    return json.loads(response.content)


def shows_current(get_view):
    """Decorate an API write (under its @router.patch/put/post/delete): a StaleWrite it raises
    carries as `details.current` exactly what the resource's GET answers now, so a client
    merges from the representation it already knows. `get_view` is the GET endpoint, or
    "module:function" where importing it would be circular. The GET's path parameters are
    taken from the write's arguments of the same names."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                return view(request, *args, **kwargs)
            except StaleWrite as exc:
                get = _resolve_view(get_view)
                names = _PATH_PARAM.findall(get._ninja_operation.path)
                params = {n: kwargs[n] for n in names}
                details = exc.details if isinstance(exc.details, dict) else {}
                exc.details = {**details, "current": current_as_get(request, get, **params)}
                raise

        return wrapper

    return decorate


def _resolve_view(view):
    if not isinstance(view, str):
        return view
    module, name = view.split(":")
    return getattr(importlib.import_module(module), name)
