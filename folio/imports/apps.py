from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "folio.imports"
    label = "imports"
    verbose_name = "Imports and exports"

    def ready(self):
        # Connects the receiver that fails the runs of jobs whose process was killed.
        from folio.imports import services  # noqa: F401
