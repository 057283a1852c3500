"""The demo catalog `folio serve` seeds into an empty database (and `folio seed-demo` on demand).

Each domain contributes a `demo.seed(out)` that is idempotent; they run in dependency order.
"""

from django.db import transaction
from django.utils.module_loading import import_string

SEEDERS = [
    "folio.accounts.demo.seed",
    "folio.catalog.demo.seed",
    "folio.assets.demo.seed",
    "folio.renditions.demo.seed",
    "folio.linking.demo.seed",
    "folio.publishing.demo.seed",
]


def seed(out) -> None:
    from folio.accounts import audit

    with audit.acting_as(None, via="system"), transaction.atomic():
        for path in SEEDERS:
            import_string(path)(out)
