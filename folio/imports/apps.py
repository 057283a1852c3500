from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "folio.imports"
    label = "imports"
    verbose_name = "Imports and exports"
