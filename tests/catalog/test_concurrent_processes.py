"""Several real processes edit the same products at once, each with its own database connection
(tests/catalog/edit_worker.py). No update is lost: with versions named, every counted
increment is in the product and in its history, once; without versions (last writer wins),
writes queue one after the other and each merges onto the state the previous one left."""

import io
import json
import subprocess
import sys

from folio.assets.services import add_asset
from folio.catalog import services
from folio.catalog.models import Product
from folio.linking import services as linking
from folio.linking.models import Link, LinkChange
from tests.assets.conftest import media, unique_jpeg  # noqa: F401 - the fixture
from tests.conftest import REPO, wait_until
from tests.fixtures.catalog import espresso_pro

PROCESSES = 4
ROUNDS = 10


def _start(args, env, tmp_path, n, *extra):
    ready = tmp_path / f"ready-{n}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.catalog.edit_worker",
            *args,
            str(ready),
            str(tmp_path / "go"),
            *extra,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.ready = ready
    return proc


def _run_together(procs, tmp_path):
    wait_until(
        lambda: all(p.ready.exists() or p.poll() is not None for p in procs),
        timeout=120,
        what="the writer processes to start",
    )
    (tmp_path / "go").touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _updates(sku):
    return list(Product.objects.get(sku=sku).history.filter(action="update").order_by("version"))


def test_versioned_increments_from_several_processes_lose_nothing(catalog, folio_env, tmp_path):
    skus = ["EP-3000", "EP-3001"]
    for sku in skus:
        # The counter: the en_US name, "0" to start with.
        services.create_product(
            espresso_pro(
                sku=sku, values={"name": [{"locale": "en_US", "scope": None, "data": "0"}]}
            )
        )
    procs = [
        _start(["increment", ",".join(skus), str(ROUNDS)], folio_env, tmp_path, n)
        for n in range(PROCESSES)
    ]
    results = _run_together(procs, tmp_path)

    assert sum(r["ok"] for r in results) == PROCESSES * ROUNDS * len(skus)
    for sku in skus:
        product = Product.objects.get(sku=sku)
        writes = PROCESSES * ROUNDS
        conflicts = sum(r["conflicts"] for r in results)
        assert product.values["name"] == [
            {"locale": "en_US", "scope": None, "data": str(writes)}
        ], conflicts
        assert product.version == 1 + writes
        history = _updates(sku)
        assert [h.version for h in history] == list(range(2, 2 + writes))
        # Each write started from the value the one before left: one step of +1 per version.
        steps = [(int(c["old"]), int(c["new"])) for h in history for c in h.changes]
        assert steps == [(i, i + 1) for i in range(writes)]


def test_unversioned_writes_from_several_processes_queue_without_corruption(
    catalog, folio_env, tmp_path
):
    services.create_product(espresso_pro(values={}))
    locales = ["en_US", "de_DE", "fr_FR"]
    procs = [
        _start(["blind", "EP-3000", str(ROUNDS)], folio_env, tmp_path, n, locale)
        for n, locale in enumerate(locales)
    ]
    _run_together(procs, tmp_path)

    product = Product.objects.get(sku="EP-3000")
    writes = len(locales) * ROUNDS
    assert product.version == 1 + writes
    # Every process's last write is there: no write overwrote another locale with stale data.
    names = {e["locale"]: e["data"] for e in product.values["name"]}
    assert names == {loc: f"{loc}-{ROUNDS - 1}" for loc in locales}
    history = _updates("EP-3000")
    assert [h.version for h in history] == list(range(2, 2 + writes))
    for locale in locales:
        mine = [c for h in history for c in h.changes if c.get("locale") == locale]
        assert [c["new"] for c in mine] == [f"{locale}-{i}" for i in range(ROUNDS)]
        assert [c["old"] for c in mine] == [None] + [f"{locale}-{i}" for i in range(ROUNDS - 1)]


def test_links_appended_from_several_processes_get_distinct_positions(
    catalog,
    folio_env,
    tmp_path,
    media,  # noqa: F811 - the fixture
):
    services.create_product(espresso_pro())
    per_process = 5
    assets = [
        [add_asset(io.BytesIO(unique_jpeg()), filename="x.jpg").pk for _ in range(per_process)]
        for _ in range(PROCESSES)
    ]
    procs = [
        _start(["link", "EP-3000", ",".join(map(str, mine))], folio_env, tmp_path, n)
        for n, mine in enumerate(assets)
    ]
    _run_together(procs, tmp_path)

    total = PROCESSES * per_process
    positions = sorted(
        Link.objects.filter(product__sku="EP-3000", role="gallery").values_list(
            "position", flat=True
        )
    )
    # Appending reads the last position then writes the next one: unqueued, two processes
    # would both take the same position.
    assert positions == list(range(1, total + 1))
    assert linking.links_version("EP-3000") == 1 + total
    assert LinkChange.objects.filter(action="link", product__sku="EP-3000").count() == total
