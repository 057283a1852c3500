import signal
import threading

from django.db import close_old_connections

from folio.cli import FolioCommand
from folio.jobs import services


class Command(FolioCommand):
    help = "Run the scheduler: starts the jobs of due schedules (started for you by `folio serve`)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval",
            type=float,
            default=5.0,
            help="seconds between looks at the schedule table",
        )
        parser.add_argument("--once", action="store_true", help="start what is due now, then exit")

    def run(self, interval, once, **options):
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write("scheduler started")
        while True:
            close_old_connections()
            for started in services.run_due_schedules():
                self.stdout.write(f"started {started.label} ({started.pk})")
            if once or stop.wait(interval):
                break
