"""`folio serve` (what `make run` calls): set up what is missing, then run the web server,
the background-job worker and the scheduler until Ctrl-C."""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from folio import demo
from folio.accounts import services
from folio.cli import FolioCommand


class Command(FolioCommand):
    help = "Migrate, seed an empty database, then serve Folio with its worker and scheduler."
    requires_system_checks = "__all__"  # it serves the URLs the other commands do not check

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=settings.BIND, help="address:port to serve on")
        parser.add_argument("--web-workers", type=int, default=settings.WEB_WORKERS)
        parser.add_argument("--no-worker", action="store_true", help="do not start a job worker")
        parser.add_argument("--no-seed", action="store_true", help="never seed demo data")

    def run(self, bind, web_workers, no_worker, no_seed, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        if not no_seed and not services.User.objects.exists():
            self.stdout.write("Empty database: seeding the demo catalog…")
            demo.seed(self.stdout)
        self.ensure_admin()
        self.serve(bind, web_workers, not no_worker)

    def ensure_admin(self):
        if services.User.objects.filter(is_superuser=True).exists():
            return
        password = settings.ADMIN_PASSWORD or secrets.token_urlsafe(12)
        services.create_user(
            "admin", roles=["admin"], password=password, email="admin@folio.invalid"
        )
        shown = "from FOLIO_ADMIN_PASSWORD" if settings.ADMIN_PASSWORD else password
        self.stdout.write(
            self.style.SUCCESS(
                f"Administrator created: user 'admin', password {shown} (shown once; "
                "change it with `folio user set-password admin`)"
            )
        )

    def child_env(self) -> dict:
        """The children share one metrics folder, emptied at start: prometheus_client's
        multi-process files of a previous run would otherwise count again."""
        env = os.environ.copy()
        folder = Path(settings.METRICS_DIR or settings.VAR_DIR / "metrics")
        if not settings.METRICS_DIR:
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        env["FOLIO_METRICS_DIR"] = str(folder)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
        return env

    def serve(self, bind, web_workers, with_worker):
        python = sys.executable
        children = {
            "web": [
                python,
                "-m",
                "gunicorn",
                "folio.wsgi:application",
                "--bind",
                bind,
                "--workers",
                str(web_workers),
                "--threads",
                "4",
                "--timeout",
                "120",
                "--forwarded-allow-ips",
                "127.0.0.1",
            ],
            "scheduler": [python, "-m", "folio", "scheduler"],
        }
        if with_worker:
            children["worker"] = [python, "-m", "folio", "worker"]
        shared = self.child_env()
        # An RQ worker forks a process per job; in the shared folder each would leave a
        # metrics file behind for good. Its job figures come from the database instead.
        alone = {
            k: v
            for k, v in shared.items()
            if k not in ("FOLIO_METRICS_DIR", "PROMETHEUS_MULTIPROC_DIR")
        }
        procs = {
            name: subprocess.Popen(
                cmd, env=alone if name == "worker" and settings.JOB_BACKEND == "rq" else shared
            )
            for name, cmd in children.items()
        }
        self.stdout.write(
            self.style.SUCCESS(
                f"Folio is running on http://{bind}/ (API docs at /api/docs). Ctrl-C stops it."
            )
        )
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    self.stderr.write(
                        f"{name} stopped unexpectedly (exit {proc.returncode}); stopping the rest"
                    )
                    exit_code = 1
                    stopping = True
                    break
            time.sleep(0.5)
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        self.stdout.write("Folio stopped.")
        if exit_code:
            sys.exit(exit_code)
