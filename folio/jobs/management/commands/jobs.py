import time

from folio.cli import FolioCommand
from folio.errors import InvalidInput
from folio.jobs import services
from folio.jobs.models import Job, Schedule


class Command(FolioCommand):
    help = "Background jobs: list, show, cancel or wait for one; list schedules."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        ls = sub.add_parser("list", help="the most recent jobs")
        ls.add_argument("--status", choices=[s.value for s in Job.Status])
        ls.add_argument(
            "--failed",
            action="store_true",
            help="only jobs that failed (out of attempts, timed out or their worker died), "
            "with why",
        )
        ls.add_argument("--limit", type=int, default=20)
        for name in ("show", "cancel", "wait"):
            p = sub.add_parser(name, help=f"{name} one job")
            p.add_argument("job_id")
        sub.add_parser("schedules", help="recurring jobs and when they run next")

    def run(self, action, **options):
        from folio.accounts.audit import current_actor
        from folio.accounts.services import User

        user = current_actor().user or User(is_superuser=True, is_active=True)
        if action == "list":
            qs = services.visible_jobs(user)
            status = Job.Status.FAILED if options["failed"] else options["status"]
            if status:
                qs = qs.filter(status=status)
            for job in qs[: max(1, min(options["limit"], 1000))]:
                self.stdout.write(f"{job.pk}  {job.status:<9}  {_progress(job):>12}  {job.label}")
                if job.status == Job.Status.FAILED and job.message:
                    self.stdout.write(f"    attempts {job.attempts}: {job.message}")
        elif action == "schedules":
            for s in Schedule.objects.all():
                every = f"every {s.every_seconds}s" if s.every_seconds else f"cron {s.cron}"
                state = "on " if s.enabled else "off"
                self.stdout.write(
                    f"{s.name:<28} {state} {every:<22} next {s.next_run_at:%Y-%m-%d %H:%M:%S}"
                )
        else:
            job_id = _uuid(options["job_id"])
            if action == "cancel":
                services.cancel_job(job_id, user)
                self.stdout.write(f"cancel requested for {job_id}")
            elif action == "wait":
                job = services.get_job(job_id, user)
                while not job.is_finished:
                    time.sleep(0.5)
                    job.refresh_from_db()
            job = services.get_job(job_id, user)
            self.stdout.write(
                f"{job.label}\nstatus: {job.status}\nprogress: {_progress(job)}\n"
                f"ok: {job.items_ok}  failed: {job.items_failed}\nmessage: {job.message}"
            )
            for err in job.errors[:50]:
                self.stdout.write(f"  - {err.get('item')}: {err.get('message')}")


def _progress(job) -> str:
    return (
        f"{job.progress_done}/{job.progress_total}"
        if job.progress_total
        else str(job.progress_done)
    )


def _uuid(text):
    import uuid

    try:
        return uuid.UUID(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a job id") from None
