from django.apps import AppConfig


class RenditionsConfig(AppConfig):
    name = "folio.renditions"
    label = "renditions"
    verbose_name = "Renditions"
