"""Limits on guessing passwords and API tokens.

Failed sign-ins are counted per username and per client address
(settings.LOGIN_RATE_LIMIT, e.g. 10 in 15 minutes); requests with a bad API token per client
address (settings.BAD_TOKEN_RATE_LIMIT). Past the limit, further sign-ins are refused
without checking the password at all — otherwise the answer would still tell a guesser when
they hit — and further bad tokens get 429 instead of 401, until the window that started with
the first failure ends.

The counts live in the "limits" cache: a database table, so every gunicorn worker process
(and every server on the same database) sees the same counts. A count is (failures, end of
window); two processes failing at the same instant may count one failure fewer, which a
limit on guessing can afford.
"""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import caches
from django.core.management import call_command

from folio.accounts.middleware import client_ip


def _cache():
    return caches["limits"]


def _key(kind: str, value: str) -> str:
    # Hashed: usernames and addresses may hold characters cache keys must not.
    return f"folio-limit:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def _read(key: str) -> tuple[int, float]:
    found = _cache().get(key)
    now = time.time()
    if not found or found[1] <= now:
        return 0, now
    return found


def _fail(key: str, window: int) -> None:
    count, until = _read(key)
    now = time.time()
    if count == 0:
        until = now + window
    # The database cache stores expiry times without their fraction of a second, so an entry
    # may vanish up to a second early; one more second keeps it until `until`, which _read
    # checks itself. (A 1-second window lost its count when the failure came late in a
    # second.)
    _cache().set(key, (count + 1, until), timeout=math.ceil(until - now) + 1)


def _wait(keys: list[str], limit: int) -> int:
    """Seconds until the first of these counts past `limit` runs out; 0 when none is."""
    now = time.time()
    waits = [until - now for count, until in map(_read, keys) if count >= limit]
    return math.ceil(max(waits)) if waits else 0


def _login_keys(username: str | None, ip: str | None) -> list[str]:
    keys = []
    if username:
        keys.append(_key("login-user", username.strip().lower()))
    if ip:
        keys.append(_key("login-ip", ip))
    return keys


def login_wait(request, username: str | None) -> int:
    """Seconds this sign-in must wait (too many failures for the username or the address)."""
    if settings.LOGIN_RATE_LIMIT is None:
        return 0
    return _wait(_login_keys(username, client_ip(request)), settings.LOGIN_RATE_LIMIT[0])


def login_failed(request, username: str | None) -> None:
    if settings.LOGIN_RATE_LIMIT is None:
        return
    for key in _login_keys(username, client_ip(request) if request is not None else None):
        _fail(key, settings.LOGIN_RATE_LIMIT[1])


def login_succeeded(username: str) -> None:
    """The account's count starts again; the address's does not (a guesser could sign in
    to an account of their own between guesses)."""
    _cache().delete(_key("login-user", username.strip().lower()))


def bad_token(request) -> int:
    """Count a request with a bad API token; seconds to wait when the address is past the
    limit (this request included), else 0."""
    ip = client_ip(request)
    if settings.BAD_TOKEN_RATE_LIMIT is None or not ip:
        return 0
    key = _key("token-ip", ip)
    _fail(key, settings.BAD_TOKEN_RATE_LIMIT[1])
    return _wait([key], settings.BAD_TOKEN_RATE_LIMIT[0] + 1)


def minutes(seconds: int) -> str:
    n = max(1, math.ceil(seconds / 60))
    return f"{n} minute{'s' if n != 1 else ''}"


def on_login_failed(sender, credentials, request=None, **kwargs):
    """user_login_failed: every failed authenticate() with a request counts (the login page,
    the admin's login, anything else that signs in with a password)."""
    login_failed(request, credentials.get("username"))


def on_logged_in(sender, request, user, **kwargs):
    login_succeeded(user.get_username())


def create_cache_table(using="default", **kwargs):
    """post_migrate: the limits cache's table (createcachetable skips it when it exists)."""
    call_command("createcachetable", database=using, verbosity=0)
