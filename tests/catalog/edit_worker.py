"""One of several processes editing the same products at once (run by test_concurrent_processes).

    python -m tests.catalog.edit_worker increment SKU[,SKU…] ROUNDS READY_FILE GO_FILE
    python -m tests.catalog.edit_worker blind SKU ROUNDS READY_FILE GO_FILE LOCALE
    python -m tests.catalog.edit_worker link SKU ASSET_ID[,ASSET_ID…] READY_FILE GO_FILE

`increment`: read the product, add 1 to the counter in its en_US name, write it back naming
the version read; on a stale write read again and retry (what a careful client does).
`blind`: write the name in LOCALE without naming a version (last writer wins). Each process
has its own database connection (Folio's real settings, FOLIO_DATABASE_URL from the test).
`link`: append each asset to the product's gallery (no version named: the links of one
product are written one after the other). Each process says it is ready by creating
READY_FILE and starts when GO_FILE exists, so all processes write at the same time.
Prints {"ok": writes, "conflicts": stale writes retried} as JSON.
"""

import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    mode, skus, what, ready, go = argv[:5]  # what: ROUNDS, or the asset ids to link
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "folio.settings")
    import django

    django.setup()
    from folio.catalog import services
    from folio.catalog.models import Product
    from folio.errors import StaleWrite
    from folio.linking import services as linking

    Path(ready).touch()
    while not Path(go).exists():  # the start line: every process is set up by now
        time.sleep(0.01)
    ok = conflicts = 0
    if mode == "link":
        for asset_id in what.split(","):
            linking.link(skus, int(asset_id), "gallery")
            ok += 1
    for i in range(0 if mode == "link" else int(what)):
        for sku in skus.split(","):
            if mode == "blind":
                entry = {"locale": argv[5], "scope": None, "data": f"{argv[5]}-{i}"}
                services.update_product(sku, {"values": {"name": [entry]}})
                ok += 1
                continue
            while True:
                product = Product.objects.get(sku=sku)
                count = int(product.values["name"][0]["data"])
                patch = {
                    "values": {"name": [{"locale": "en_US", "scope": None, "data": str(count + 1)}]}
                }
                try:
                    services.update_product(sku, patch, expected_version=product.version)
                except StaleWrite:
                    conflicts += 1
                    continue
                ok += 1
                break
    print(json.dumps({"ok": ok, "conflicts": conflicts}))


if __name__ == "__main__":
    main(sys.argv[1:])
