"""Jobs that exist only for the tests; the worker subprocess imports this module by name."""

import os
import time
from pathlib import Path

from folio.jobs.services import job


@job("Count items")
def count_items(ctx, items: list[str], bad: list[str] = ()):
    """Reports progress per item and a per-item error for each item in `bad`."""
    ctx.set_total(len(items))
    for item in items:
        if item in bad:
            ctx.item_failed(item, f"{item} is not a valid SKU", column="sku")
        else:
            ctx.advance()
    return {"seen": len(items)}


@job("Always fails")
def explode(ctx):
    raise RuntimeError("the supplier feed is unreachable")


def _wait_for(ctx, path: str, timeout: float = 60):
    """One item done, then block until `path` exists (flushing lets a cancel request reach
    the job), then the second item."""
    ctx.set_total(2)
    ctx.advance()
    deadline = time.monotonic() + timeout
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        ctx.flush(force=True)
        time.sleep(0.05)
    ctx.advance()
    return {"found": path}


@job("Wait for a file")
def wait_for_file(ctx, path: str):
    return _wait_for(ctx, path)


@job("Wait for a file, retried when its worker dies", max_attempts=2)
def wait_for_file_retried(ctx, path: str):
    return _wait_for(ctx, path)


@job("Scheduled no-op", schedulable=True)
def scheduled_noop(ctx, **params):
    return params


@job("Fetch a flaky supplier feed", max_attempts=3, retry_errors=True)
def flaky_feed(ctx):
    """Fails every attempt, as a supplier feed that stays down would."""
    ctx.set_total(1)
    raise ConnectionError(f"the supplier feed is unreachable (attempt {ctx.job.attempts})")


@job("Sleep past its time limit", timeout=2)
def sleep_past_limit(ctx, seconds: float = 30):
    ctx.set_total(1)
    time.sleep(seconds)
    ctx.advance()


@job("Wait for a file, noting the process running it")
def wait_noting_pid(ctx, path: str, pid_file: str):
    """As wait_for_file, and first writes its process id to `pid_file` (an RQ work horse)."""
    Path(pid_file).write_text(str(os.getpid()))
    return _wait_for(ctx, path)
