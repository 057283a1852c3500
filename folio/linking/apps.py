from django.apps import AppConfig


class LinkingConfig(AppConfig):
    name = "folio.linking"
    label = "linking"
    verbose_name = "Product media links"

    def ready(self):
        # Media requirements count in completeness; the catalog only calls the provider.
        from folio.linking import completeness

        completeness.connect()
