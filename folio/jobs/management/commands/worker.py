from folio.cli import FolioCommand
from folio.jobs.worker import Worker


class Command(FolioCommand):
    help = "Run a background-job worker (started for you by `folio serve`)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch", action="store_true", help="run the jobs waiting now, then exit"
        )
        parser.add_argument("--max-jobs", type=int, default=None, help="exit after this many jobs")

    def run(self, batch, max_jobs, **options):
        worker = Worker(batch=batch, max_tasks=max_jobs)
        worker.configure_signals()
        self.stdout.write(f"worker {worker.worker_id} started")
        worker.run()
