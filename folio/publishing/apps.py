from django.apps import AppConfig


class PublishingConfig(AppConfig):
    name = "folio.publishing"
    label = "publishing"
    verbose_name = "Publishing"

    def ready(self):
        from folio.publishing import events, recovery  # noqa: F401 - recovery: its receiver

        events.connect()
