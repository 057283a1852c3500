from django.conf import settings

from folio.cli import FolioCommand


class Command(FolioCommand):
    help = (
        "Run a background-job worker (started for you by `folio serve`): the database worker, "
        "or an RQ worker when FOLIO_REDIS_URL is set. Start as many as you like, anywhere."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch", action="store_true", help="run the jobs waiting now, then exit"
        )
        parser.add_argument("--max-jobs", type=int, default=None, help="exit after this many jobs")

    def run(self, batch, max_jobs, **options):
        if settings.JOB_BACKEND == "rq":
            self.run_fleet_worker(batch, max_jobs)
            return
        from folio.jobs.worker import Worker
        from folio.monitoring.metrics import serve_worker_metrics

        serve_worker_metrics()  # FOLIO_METRICS_PORT: for a worker on a machine of its own
        worker = Worker(batch=batch, max_tasks=max_jobs)
        worker.configure_signals()
        self.stdout.write(f"worker {worker.worker_id} started")
        worker.run()

    def run_fleet_worker(self, batch, max_jobs):
        from rq.logutils import setup_loghandlers

        from folio.jobs import fleet

        setup_loghandlers("INFO")
        worker = fleet.get_worker()
        self.stdout.write(f"worker {worker.name} started (RQ, queues {', '.join(fleet.QUEUES)})")
        self.stdout.flush()
        # with_scheduler: one worker of the fleet at a time also moves due deferred jobs
        # (retries waiting out their pause) onto the queue.
        worker.work(burst=batch, with_scheduler=True, max_jobs=max_jobs)
