"""`folio schedule-feed CHANNEL FEED …`: publish a feed on its own, on a schedule (UTC).

folio schedule-feed marketplace google --every 3600
folio schedule-feed marketplace google --cron "0 3 * * *" --mode full
folio schedule-feed marketplace google            # shows the schedule
folio schedule-feed marketplace google --off
"""

from folio.accounts.audit import current_actor
from folio.cli import FolioCommand
from folio.publishing import events
from folio.publishing.feeds import get_feed


class Command(FolioCommand):
    # what --as-user needs, per sub-action (folio.cli.FolioCommand)
    permissions = {"": "publishing.change_feed"}
    help = "Publish a feed every N seconds or on a cron expression (UTC); --off stops it."

    def add_arguments(self, parser):
        parser.add_argument("channel")
        parser.add_argument("feed")
        when = parser.add_mutually_exclusive_group()
        when.add_argument("--every", type=int, default=None, metavar="SECONDS")
        when.add_argument("--cron", default=None, metavar='"M H DOM MON DOW"')
        when.add_argument("--off", action="store_true", help="stop publishing it on a schedule")
        parser.add_argument("--mode", choices=events.MODES, default="incremental")

    def run(self, channel, feed, every=None, cron=None, off=False, mode="incremental", **o):
        user = current_actor().user
        found = get_feed(channel, feed)
        if off:
            removed = events.unschedule_feed(found, user=user)
            self.stdout.write(
                f"{channel}/{feed}: " + ("no longer scheduled" if removed else "was not scheduled")
            )
            return
        if every is not None or cron is not None:
            events.schedule_feed(found, every_seconds=every, cron=cron, mode=mode, user=user)
        schedule = events.feed_schedule(found)
        if schedule is None:
            self.stdout.write(f"{channel}/{feed}: not scheduled")
            return
        data = events.schedule_data(schedule)
        every, cron = data["every_seconds"], data["cron"]
        when = f"every {every} s" if every else f"cron {cron}"
        self.stdout.write(
            f"{channel}/{feed}: {data['mode']} publication {when}"
            + ("" if data["enabled"] else " (off)")
            + f", next at {data['next_run_at']:%Y-%m-%d %H:%M:%S} UTC (schedule {data['name']})"
        )
