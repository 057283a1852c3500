"""The embedded worker: django-tasks-db's worker plus a heartbeat, so that the jobs of a
worker that died (killed, out of memory, machine gone) are noticed and retried or failed."""

import os
import socket
import threading

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker as DatabaseWorker

from folio.jobs import services


class Worker(DatabaseWorker):
    def __init__(self, *, heartbeat_seconds: float | None = None, **kwargs):
        kwargs.setdefault(
            "worker_id", f"{socket.gethostname()[:30]}-{os.getpid()}-{get_random_string(6)}"
        )
        kwargs.setdefault("queue_names", ["default"])
        kwargs.setdefault("excluded_queue_names", [])
        kwargs.setdefault("backend_name", "default")
        kwargs.setdefault("interval", 0.5)
        kwargs.setdefault("batch", False)
        kwargs.setdefault("startup_delay", False)
        kwargs.setdefault("max_tasks", None)
        super().__init__(**kwargs)
        self.heartbeat_seconds = heartbeat_seconds or settings.JOB_HEARTBEAT_SECONDS
        self._stop = threading.Event()

    def beat(self) -> None:
        services.heartbeat(self.worker_id, socket.gethostname(), os.getpid())

    def _beat_forever(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                close_old_connections()
                self.beat()
            except Exception:  # a missed beat is retried next time; never kill the worker
                services.log.exception("worker heartbeat failed")
        connection.close()

    def run(self) -> None:
        self.beat()
        services.reap_dead_jobs()
        beater = threading.Thread(target=self._beat_forever, name="heartbeat", daemon=True)
        beater.start()
        try:
            super().run()
        finally:
            self._stop.set()
