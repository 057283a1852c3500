"""Password and token guessing is limited: failed sign-ins per username and per address,
bad API tokens per address, counted in a database table every web process shares."""

import pytest
from django.core.cache import caches
from django.test import Client

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def small_limits(db, settings):
    settings.LOGIN_RATE_LIMIT = (3, 900)
    settings.BAD_TOKEN_RATE_LIMIT = (4, 900)
    caches["limits"].clear()
    yield
    caches["limits"].clear()


def sign_in(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def client_from(ip):
    return Client(REMOTE_ADDR=ip)


def test_failed_sign_ins_lock_the_username_with_a_clear_message(make_user):
    make_user("viewer", "vic")
    for n in range(3):
        response = sign_in(client_from(f"10.0.0.{n}"), "vic", "wrong-password")
        assert b"didn't match" in response.content
    # From yet another address, with the right password: refused, and the page says why.
    response = sign_in(client_from("10.0.0.99"), "VIC", PASSWORD)
    assert response.status_code == 200
    assert b"Too many failed sign-ins" in response.content
    assert b"Try again in 15 minutes" in response.content
    assert "_auth_user_id" not in response.client.session

    # Someone else still signs in; the lock is on the name, not on everyone.
    make_user("viewer", "val")
    assert sign_in(client_from("10.0.0.99"), "val", PASSWORD).status_code == 302


def test_failed_sign_ins_lock_the_address_across_usernames(make_user):
    make_user("viewer", "vic")
    attacker = client_from("192.0.2.7")
    for name in ("alice", "bob", "carol"):
        assert b"didn't match" in sign_in(attacker, name, "guess").content
    response = sign_in(attacker, "vic", PASSWORD)
    assert b"Too many failed sign-ins" in response.content
    # The same account from another address is fine.
    assert sign_in(client_from("192.0.2.8"), "vic", PASSWORD).status_code == 302


def test_a_success_resets_the_username_count(make_user):
    make_user("viewer", "vic")
    for n in range(2):
        sign_in(client_from(f"10.1.0.{n}"), "vic", "wrong")
    assert sign_in(client_from("10.1.0.50"), "vic", PASSWORD).status_code == 302
    for n in range(2):
        sign_in(client_from(f"10.1.1.{n}"), "vic", "wrong")
    assert sign_in(client_from("10.1.0.51"), "vic", PASSWORD).status_code == 302


def test_the_admin_login_is_limited_too(make_user):
    make_user("admin", "root")
    client = client_from("198.51.100.1")
    for _ in range(3):
        client.post("/admin/login/", {"username": "root", "password": "nope"})
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 200
    assert b"Too many failed sign-ins" in response.content


def test_the_window_ends(make_user, settings):
    settings.LOGIN_RATE_LIMIT = (1, 1)
    make_user("viewer", "vic")
    client = client_from("10.2.0.1")
    sign_in(client, "vic", "wrong")
    assert b"Too many" in sign_in(client, "vic", PASSWORD).content
    # Expire the window the way time would: the count carries its own end.
    cache = caches["limits"]
    from folio.accounts import limits

    for key in (limits._key("login-user", "vic"), limits._key("login-ip", "10.2.0.1")):
        count, _until = cache.get(key)
        cache.set(key, (count, 0), timeout=60)
    assert sign_in(client, "vic", PASSWORD).status_code == 302


def test_limits_can_be_switched_off(make_user, settings):
    settings.LOGIN_RATE_LIMIT = None
    make_user("viewer", "vic")
    client = client_from("10.3.0.1")
    for _ in range(5):
        sign_in(client, "vic", "wrong")
    assert sign_in(client, "vic", PASSWORD).status_code == 302


def test_bad_api_tokens_are_limited_per_address(api_client):
    good = api_client("viewer")
    guesser = Client(REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer folio_abc_wrong")
    for _ in range(4):
        assert guesser.get("/api/v1/me").status_code == 401
    response = guesser.get("/api/v1/me")
    assert response.status_code == 429
    assert "wrong API token from your address" in response.json()["error"]["message"]
    assert int(response["Retry-After"]) > 0
    # The docs and schema, which check tokens themselves, count the same.
    assert guesser.get("/api/openapi.json").status_code == 429
    # A good token is never held up, not even from that address.
    assert good.get("/api/v1/me", REMOTE_ADDR="203.0.113.9").status_code == 200
    # Other addresses are not affected.
    other = Client(REMOTE_ADDR="203.0.113.10", HTTP_AUTHORIZATION="Bearer folio_abc_wrong")
    assert other.get("/api/v1/me").status_code == 401


def test_counts_are_shared_through_the_database(make_user):
    """Every gunicorn worker process must see the same counts: the cache is a table."""
    from django.db import connection

    make_user("viewer", "vic")
    sign_in(client_from("10.4.0.1"), "vic", "wrong")
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM folio_limits_cache")
        assert cursor.fetchone()[0] == 2  # the username's count and the address's


def test_behind_a_trusted_proxy_the_forwarded_address_counts(make_user, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    make_user("viewer", "vic")
    proxy = client_from("127.0.0.1")
    for n in range(3):
        proxy.post(
            "/login/",
            {"username": f"u{n}", "password": "x"},
            HTTP_X_FORWARDED_FOR="198.51.100.20",
        )
    blocked = proxy.post(
        "/login/",
        {"username": "vic", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.20",
    )
    assert b"Too many failed sign-ins" in blocked.content
    # Another client through the same proxy is someone else.
    fine = proxy.post(
        "/login/",
        {"username": "vic", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.21",  # what the client claimed, then it
    )
    assert fine.status_code == 302


def test_forwarded_addresses_from_anyone_else_are_ignored(make_user):
    make_user("viewer", "vic")
    client = client_from("192.0.2.50")
    for n in range(3):
        # A client rotating fake X-Forwarded-For values is still one address.
        client.post(
            "/login/", {"username": f"u{n}", "password": "x"}, HTTP_X_FORWARDED_FOR=f"10.9.9.{n}"
        )
    response = client.post("/login/", {"username": "vic", "password": PASSWORD})
    assert b"Too many failed sign-ins" in response.content


def test_a_count_is_kept_to_the_end_of_its_window():
    """The database cache stores expiry times to the whole second: the count of a 1-second
    window must not vanish before the window ends (it did whenever the failure came late in
    a second)."""
    import datetime

    from django.db import connection

    from folio.accounts import limits

    key = limits._key("login-user", "edge")
    limits._fail(key, 1)
    count, until = caches["limits"].get(key)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT expires FROM folio_limits_cache WHERE cache_key LIKE %s", ["%" + key]
        )
        (expires,) = cursor.fetchone()
    if isinstance(expires, str):  # SQLite answers text
        expires = datetime.datetime.fromisoformat(expires)
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=datetime.UTC)
    assert count == 1 and expires.timestamp() >= until
