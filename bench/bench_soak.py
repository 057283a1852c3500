"""Soak: concurrent editors, uploaders and API readers against a real `folio serve` on loopback.

A real server (`python -m folio serve`: gunicorn with 2 processes × 4 threads, the job worker
and the scheduler) on a free loopback port, seeded with a small catalog of its own. Client
threads in this process, over HTTP with real API tokens:

- editors: read a product, add 1 to its `soak_counter` and PATCH it back with the version
  they read (optimistic concurrency). A 409 is a lost race, not an error: they re-read and
  retry. Several editors share the same products on purpose.
- uploaders: POST a new, distinct JPEG as an asset (previews are then made by the worker).
- readers: product list pages, one product, unified search, SKU 360.

Bounded twice — by time (FOLIO_SOAK_SECONDS, default 180) and by request count (50,000) —
so it always stops by itself. Afterwards, checked against the database: every product's
counter equals the number of PATCHes the server accepted for it (no lost update), every
accepted upload is an asset. The web processes' memory (VmRSS) is sampled every 5 s:
"flat" compares the median of the last third of the samples with the first third.
"""

import contextlib
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

from bench.harness import REPO_DIR, Metric, Result, Target

PARAMS = {
    "seconds": int(os.environ.get("FOLIO_SOAK_SECONDS", "180")),
    "max_requests": 50_000,
    "editors": 4,
    "uploaders": 2,
    "readers": 6,
    "products": 40,
    "web": "folio serve: gunicorn 2 processes × 4 threads, worker, scheduler",
    "memory_sample_every_s": 5,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _web_pids(serve_pid: int) -> list[int]:
    """gunicorn's worker processes (children of the master, a child of `folio serve`)."""
    pids = []
    for child in _children(serve_pid):
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"gunicorn" in cmdline:
            pids.extend(_children(child))
    return pids


def _jpeg(i: int) -> bytes:
    from PIL import Image

    rng = random.Random(i)
    image = Image.new("RGB", (320, 240), tuple(rng.randrange(256) for _ in range(3)))
    for _ in range(12):
        x, y = rng.randrange(300), rng.randrange(220)
        image.paste(tuple(rng.randrange(256) for _ in range(3)), (x, y, x + 20, y + 20))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _seed(n: int) -> dict:
    from folio.accounts import services as accounts
    from folio.catalog import services, structure
    from folio.catalog.models import Category, Currency, Locale

    if not Locale.objects.filter(code="en_US").exists():  # migrations may have made it
        structure.create_locale("en_US")
    if not Currency.objects.filter(code="USD").exists():
        structure.create_currency("USD")
    if not Category.objects.filter(code="soak").exists():
        structure.create_category("soak", labels={"en_US": "Soak"})
    structure.create_channel(
        "soak_shop", locales=["en_US"], currencies=["USD"], category_tree="soak"
    )
    structure.create_attribute("name", type="text", localizable=True, labels={"en_US": "Name"})
    structure.create_attribute(
        "soak_counter", type="number", decimals_allowed=False, labels={"en_US": "Counter"}
    )
    structure.create_family("soak", attributes=["name", "soak_counter"], label_attribute="name")
    skus = []
    for i in range(n):
        sku = f"SOAK-{i:03d}"
        services.create_product(
            {
                "sku": sku,
                "family": "soak",
                "values": {
                    "name": [{"locale": "en_US", "scope": None, "data": f"Soak bottle {i}"}],
                    "soak_counter": [{"locale": None, "scope": None, "data": 0}],
                },
            }
        )
        skus.append(sku)
    tokens = {}
    for role, count in (
        ("catalog_editor", PARAMS["editors"]),
        ("asset_manager", PARAMS["uploaders"]),
        ("viewer", PARAMS["readers"]),
    ):
        for k in range(count):
            user = accounts.create_user(f"soak-{role}-{k}", roles=[role], password=None)
            _, text = accounts.create_token(user, "soak")
            tokens.setdefault(role, []).append(text)
    return {"skus": skus, "tokens": tokens}


class Load:
    def __init__(self, base: str, seeded: dict, deadline: float):
        import urllib3

        self.base = base
        self.seeded = seeded
        self.deadline = deadline
        self.http = urllib3.PoolManager(maxsize=32, timeout=urllib3.Timeout(60), retries=False)
        self.lock = threading.Lock()
        self.requests = 0
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter = Counter()
        self.errors: list[str] = []
        self.accepted: Counter = Counter()  # sku → PATCHes the server accepted
        self.conflicts = 0
        self.uploaded: list[int] = []

    def more(self) -> bool:
        with self.lock:
            if time.monotonic() >= self.deadline or self.requests >= PARAMS["max_requests"]:
                return False
            self.requests += 1
            return True

    def call(self, kind: str, method: str, path: str, token: str, **kwargs):
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        started = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, headers=headers, **kwargs)
        except Exception as exc:  # a connection error is an error of the soak
            with self.lock:
                self.errors.append(f"{kind} {method} {path}: {type(exc).__name__}: {exc}")
            return None
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.latency[kind].append(elapsed)
            self.statuses[response.status] += 1
            if response.status >= 500 or response.status in (401, 403, 404, 422, 429):
                self.errors.append(
                    f"{kind} {method} {path}: {response.status} {response.data[:200]!r}"
                )
        return response

    def editor(self, token: str, seed: int) -> None:
        rng = random.Random(seed)
        skus = self.seeded["skus"]
        while self.more():
            sku = rng.choice(skus[: len(skus) // 2])  # half the products: real contention
            got = self.call("edit", "GET", f"/api/v1/catalog/products/{sku}", token)
            if got is None or got.status != 200:
                continue
            product = json.loads(got.data)
            current = int(Decimal(product["values"]["soak_counter"][0]["data"]))
            body = {
                "version": product["version"],
                "values": {"soak_counter": [{"locale": None, "scope": None, "data": current + 1}]},
            }
            if not self.more():
                return
            done = self.call(
                "edit",
                "PATCH",
                f"/api/v1/catalog/products/{sku}",
                token,
                body=json.dumps(body),
                headers={"Content-Type": "application/json"},
            )
            if done is None:
                continue
            with self.lock:
                if done.status == 200:
                    self.accepted[sku] += 1
                elif done.status == 409:
                    self.conflicts += 1

    def uploader(self, token: str, seed: int) -> None:
        i = seed * 1_000_000
        while self.more():
            i += 1
            done = self.call(
                "upload",
                "POST",
                "/api/v1/assets",
                token,
                fields={"file": (f"soak-{i}.jpg", _jpeg(i), "image/jpeg")},
            )
            if done is not None and done.status == 201:
                with self.lock:
                    self.uploaded.append(json.loads(done.data)["id"])

    def reader(self, token: str, seed: int) -> None:
        rng = random.Random(seed)
        skus = self.seeded["skus"]
        while self.more():
            choice = rng.random()
            sku = rng.choice(skus)
            if choice < 0.35:
                self.call("read", "GET", "/api/v1/catalog/products?family=soak", token)
            elif choice < 0.7:
                self.call("read", "GET", f"/api/v1/catalog/products/{sku}", token)
            elif choice < 0.85:
                self.call("read", "GET", "/api/v1/search/all?q=soak+bottle", token)
            else:
                self.call("read", "GET", f"/api/v1/catalog/products/{sku}/360", token)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(ctx) -> Result:
    from folio.assets.models import Asset
    from folio.catalog.models import Product

    seeded = _seed(PARAMS["products"])
    port = _free_port()
    env = {
        **os.environ,
        **ctx.env,
        "FOLIO_API_RATE_LIMIT": "1000000/m",
        "FOLIO_REQUEST_LOG_LEVEL": "WARNING",
        "FOLIO_ALLOWED_HOSTS": "127.0.0.1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    log = open(ctx.var_dir / "soak-server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "folio", "serve", "--bind", f"127.0.0.1:{port}", "--no-seed"],
        cwd=REPO_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        import urllib3

        started = time.monotonic()
        while True:
            with contextlib.suppress(urllib3.exceptions.HTTPError):  # not listening yet
                ready = urllib3.request("GET", base + "/health/ready", timeout=5, retries=False)
                if ready.status == 200:
                    break
            if server.poll() is not None or time.monotonic() - started > 120:
                log.flush()
                tail = Path(log.name).read_text()[-3000:]
                raise RuntimeError(f"folio serve did not become ready:\n{tail}")
            time.sleep(0.5)
        pids = _web_pids(server.pid)
        before_assets = Asset.objects.count()
        deadline = time.monotonic() + PARAMS["seconds"]
        load = Load(base, seeded, deadline)
        threads = []
        for role, work in (
            ("catalog_editor", load.editor),
            ("asset_manager", load.uploader),
            ("viewer", load.reader),
        ):
            for k, token in enumerate(seeded["tokens"][role]):
                threads.append(threading.Thread(target=work, args=(token, k + 1), daemon=True))
        memory: list[float] = []
        began = time.perf_counter()
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            memory.append(sum(_rss_mb(p) for p in pids))
            for t in threads:
                t.join(timeout=PARAMS["memory_sample_every_s"] / len(threads))
        wall = time.perf_counter() - began
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    counters = {
        p.sku: int(Decimal(p.values["soak_counter"][0]["data"]))
        for p in Product.objects.filter(sku__in=seeded["skus"])
    }
    lost = sum(max(0, load.accepted[sku] - counters[sku]) for sku in seeded["skus"])
    extra = sum(max(0, counters[sku] - load.accepted[sku]) for sku in seeded["skus"])
    uploads_missing = len(load.uploaded) - Asset.objects.filter(pk__in=load.uploaded).count()
    asset_delta = Asset.objects.count() - before_assets
    total = sum(len(v) for v in load.latency.values())
    third = max(1, len(memory) // 3)
    first, last = statistics.median(memory[:third]), statistics.median(memory[-third:])
    metrics = [
        Metric("throughput", "requests/s, all clients together", total / wall, "req/s"),
        Metric(
            "errors",
            "errors (5xx, 4xx other than 409, connection failures)",
            len(load.errors),
            "errors",
            target=Target("<=", 0, source="issue 10"),
        ),
        Metric(
            "lost_writes",
            "lost updates (accepted PATCHes missing from the counters) + uploads missing",
            lost + extra + uploads_missing,
            "writes",
            target=Target("<=", 0, source="issue 10"),
        ),
        Metric(
            "memory_growth",
            f"web processes' RSS: median of last third − first third ({first:.0f} MB at start)",
            last - first,
            "MB",
            target=Target("<=", 50, source="provisional: 'flat memory'"),
        ),
    ]
    for kind in ("read", "edit", "upload"):
        samples = load.latency.get(kind, [])
        if samples:
            metrics.append(Metric(f"{kind}_p50", f"{kind} latency p50", _pct(samples, 0.5), "ms"))
            metrics.append(Metric(f"{kind}_p99", f"{kind} latency p99", _pct(samples, 0.99), "ms"))
    return Result(
        name="soak",
        title="Soak: concurrent editors, uploaders and readers against folio serve",
        description=__doc__.split("\n\n")[0],
        parameters=PARAMS,
        metrics=metrics,
        diagnostics={
            "requests": total,
            "wall_seconds": round(wall, 1),
            "statuses": dict(load.statuses),
            "conflicts_409_retried": load.conflicts,
            "accepted_patches": sum(load.accepted.values()),
            "uploads_accepted": len(load.uploaded),
            "assets_added": asset_delta,
            "memory_samples_mb": [round(m, 1) for m in memory],
            "first_errors": load.errors[:10],
        },
    )
