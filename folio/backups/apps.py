from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "folio.backups"
    label = "backups"
    verbose_name = "Backups"
