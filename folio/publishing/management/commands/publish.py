"""`folio publish CHANNEL`: publish a channel's feeds now, and say what went out and what did
not (and why).

    folio publish marketplace                      # every enabled feed of the channel
    folio publish marketplace --feed google --full
    folio publish webshop --feed shopify --dry-run # the diff, nothing written
    folio publish print --category coffee_machines
    folio publish marketplace --background         # queue it for the worker instead

By default the run happens here, with a progress bar, and ends with a summary: counts, the
files written and where, and the skipped products with their reasons. The exit status is
non-zero when a publication failed.
"""

from django.core.management.base import CommandError

from folio.accounts.audit import current_actor
from folio.cli import FolioCommand, progress
from folio.errors import InvalidInput
from folio.publishing import feeds as service
from folio.publishing import history
from folio.publishing.management.commands.publications import item_line, write_diff, write_summary
from folio.publishing.models import Publication, PublishedItem

SHOWN_SKIPS = 20


class ProgressContext:
    """Stands in for a job's context when the run happens in this process: the run's
    progress reports move folio.cli.progress's bar instead of a Job row."""

    job = None

    def __init__(self, description: str, stream):
        self.description = description
        self.stream = stream
        self.ticks = None
        self.stop = False
        self.failed: list[dict] = []

    def set_total(self, total: int | None) -> None:
        self.close()
        self.stop = False

        def steps():
            while not self.stop:
                yield None

        # progress() counts a step when the next one is asked for: the bar trails by one
        # step while the run goes on, and close() asks for the last one.
        self.ticks = progress(
            steps(), total=total, description=self.description, stream=self.stream
        )

    def advance(self, n: int = 1, *, ok: int | None = None) -> None:
        if self.ticks is None:
            self.set_total(None)
        for _ in range(n):
            next(self.ticks)

    def item_failed(self, item: str, message: str, **where) -> None:
        self.failed.append({"item": str(item), "message": message, **where})
        self.advance()

    def flush(self, force: bool = False) -> None:
        pass

    def close(self) -> None:
        if self.ticks is not None:
            self.stop = True
            for _ in self.ticks:
                pass
            self.ticks = None


class Command(FolioCommand):
    # what --as-user needs, per sub-action (folio.cli.FolioCommand)
    permissions = {"": "publishing.run_publication"}
    help = "Publish a channel's feeds now (or --background), with a report of what was skipped."

    def add_arguments(self, parser):
        parser.add_argument("channel")
        parser.add_argument("--feed", default=None, help="only this feed (default: every one)")
        parser.add_argument(
            "--full", action="store_true", help="re-send everything, not only what changed"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="show what would change; write nothing"
        )
        select = parser.add_mutually_exclusive_group()
        select.add_argument("--category", default=None, help="products in it or below")
        select.add_argument(
            "--filter",
            action="append",
            default=[],
            help="attribute condition, e.g. 'capacity>=500 ml' (repeat: all must hold)",
        )
        select.add_argument("--sku", action="append", default=[], help="this product (repeat)")
        parser.add_argument(
            "--background", action="store_true", help="queue for the worker and return at once"
        )

    def run(
        self,
        channel,
        feed=None,
        full=False,
        dry_run=False,
        category=None,
        filter=(),
        sku=(),
        background=False,
        **o,
    ):
        user = current_actor().user
        if feed:
            chosen = [service.get_feed(channel, feed)]
        else:
            everything = service.list_feeds(channel)
            if not everything:
                raise InvalidInput(
                    f"channel {channel} has no feeds; add one with "
                    f"`folio feeds create {channel} CODE --format FORMAT`",
                    details={"channel": channel},
                )
            chosen = [f for f in everything if f.enabled]
            for f in everything:
                if not f.enabled:
                    self.stdout.write(f"{channel}/{f.code} is disabled: not published")
            if not chosen:
                raise InvalidInput(f"every feed of channel {channel} is disabled")
        selection = None
        if category:
            selection = {"category": category}
        elif filter:
            selection = {"filter": filter[0] if len(filter) == 1 else list(filter)}
        elif sku:
            selection = {"skus": list(sku)}
        if selection is not None:
            selection = service.check_selection(chosen[0].channel, selection)
        mode = Publication.Mode.FULL if full else Publication.Mode.INCREMENTAL

        from folio.publishing import runs

        failed = []
        for f in chosen:
            if background:
                p = runs.start_publication(
                    f, mode=mode, dry_run=dry_run, selection=selection, user=user
                )
                self.stdout.write(
                    f"publication {p.pk} of {f.channel.code}/{f.code} queued"
                    + (f" (job {p.job_id})" if p.job_id else "")
                    + f"; follow it with `folio publications show {p.pk}`"
                )
                continue
            p = self._publish_now(
                runs, f, mode=mode, dry_run=dry_run, selection=selection, user=user
            )
            if p.status != Publication.Status.DONE:
                failed.append(p)
        if failed:
            raise CommandError(
                "; ".join(
                    f"publication {p.pk} of {p.channel.code}/{p.feed.code} failed: "
                    f"{p.message or p.status}"
                    for p in failed
                )
            )

    def _publish_now(self, runs, feed, *, mode, dry_run, selection, user) -> Publication:
        ctx = ProgressContext(f"{feed.channel.code}/{feed.code}", self.stderr)
        # runs.publish() without its job, but with this terminal's progress bar.
        publication = runs._create(feed, mode=mode, dry_run=dry_run, selection=selection, user=user)
        try:
            runs.run_publication(publication, ctx)
        finally:
            ctx.close()
        publication = history.get_publication(publication.pk)
        self.report(publication)
        return publication

    def report(self, publication: Publication) -> None:
        out = self.stdout
        write_summary(out, history.summary(publication))
        skipped = history.items(publication, action=PublishedItem.Action.SKIPPED)
        total = skipped.count()
        if total:
            out.write("  skipped products:")
            for item in skipped[:SHOWN_SKIPS]:
                out.write("  " + item_line(history.item_out(item, publication.channel.code)))
            if total > SHOWN_SKIPS:
                out.write(
                    f"  … and {total - SHOWN_SKIPS} more; see `folio publications show "
                    f"{publication.pk} --action skipped`"
                )
        if publication.dry_run:
            write_diff(out, history.diff(publication, limit=SHOWN_SKIPS))
        out.write("")
