from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "folio.jobs"
    label = "jobs"
    verbose_name = "Background jobs"

    def ready(self):
        # Register the built-in jobs so the scheduler and the worker can find them by name.
        from folio.jobs import maintenance  # noqa: F401
