"""Push connectors: besides writing files, send a publication's changes straight to a
channel's API (Shopify Admin GraphQL, Amazon Selling Partner Listings Items).

The run calls `push(feed, publication, changes, ctx)` after a successful, non-dry run of a
feed with a connector; each connector answers per SKU with
`{"status": "ok" | "error" | "dry_run", "message": …, …}`, which the run keeps on the
PublishedItem (`remote`). Until the connector's credentials are configured (settings,
FOLIO_SHOPIFY_* / FOLIO_AMAZON_*) a push is a dry run: every item says what would be sent
and nothing leaves the machine.
"""

import importlib
import logging
from collections import Counter

from folio.errors import InvalidInput

log = logging.getLogger("folio.publishing.connectors")

CONNECTORS = {
    "shopify": "folio.publishing.connectors.shopify",
    "amazon": "folio.publishing.connectors.amazon",
}


def _module(code: str):
    if code not in CONNECTORS:
        raise InvalidInput(
            f"unknown connector {code!r}; one of {', '.join(CONNECTORS)}",
            details={"field": "connector", "value": code},
        )
    return importlib.import_module(CONNECTORS[code])


def missing_settings(feed) -> list[str]:
    """The FOLIO_* variables still to set before the feed's connector goes live."""
    if not feed.connector:
        return []
    return _module(feed.connector).missing_settings(feed)


def configured(feed) -> bool:
    """True when the feed has a connector and its credentials are all set."""
    return bool(feed.connector) and not missing_settings(feed)


def push(feed, publication, changes, ctx) -> dict[str, dict]:
    """Send `changes` (formats.base.Change: new data, or None to remove) to the feed's
    channel; return each SKU's result. Never raises for a channel's refusal: what went wrong
    is each item's result."""
    if not feed.connector or not changes:
        return {}
    module = _module(feed.connector)
    missing = module.missing_settings(feed)
    if missing:
        results = module.dry_run(feed, changes, ctx, missing)
    else:
        results = module.push(feed, publication, changes, ctx)
    counts = Counter(r["status"] for r in results.values())
    log.info(
        "%s push of feed %s (publication %s): %s",
        feed.connector,
        feed.code,
        getattr(publication, "pk", None),
        ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing",
    )
    return results


def no_credentials(missing: list[str]) -> str:
    return f"no credentials: set {', '.join(missing)}"
