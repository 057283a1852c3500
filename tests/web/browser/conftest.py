"""Browser tests: Debian's Chromium driven through Playwright's Python API against Django's
live server (a real HTTP server in a thread, on the test database).

Chromium comes from the system (/usr/bin/chromium; scripts/run-tests installs the package
when it can); Playwright's own browser downloads are never used. Without Chromium the tests
are skipped with the reason in the summary, never silently.
"""

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Waiting for anything slower than this is a failure, not a reason to wait longer.
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser(django_db_setup, live_server):
    """Chromium for one test module. The test database and the live server exist first:
    Playwright's sync API keeps an event loop running in this thread, and Django refuses
    database work in a thread with a running loop unless told that this is deliberate."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(
            f"BROWSER TESTS SKIPPED: no Chromium at {CHROMIUM}. Install Debian's `chromium` "
            "package (scripts/run-tests does when run as root)."
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is in the dev dependencies
        pytest.skip("BROWSER TESTS SKIPPED: the playwright package is not installed")
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    # The tests' own ORM calls (setting up data, checking results, flushing the database
    # afterwards) are plain synchronous code beside that loop.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
    finally:
        playwright.stop()
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.errors = errors
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def sign_in(page, username: str, password: str = "correct-horse-battery-9") -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
