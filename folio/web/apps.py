from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "folio.web"
    label = "web"
    verbose_name = "Web UI"
