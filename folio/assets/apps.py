from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "folio.assets"
    label = "assets"
    verbose_name = "Assets"

    def ready(self):
        # Receivers of the assets' signals (search index, previews) must be connected in every
        # process that writes assets — web, worker, CLI — not only where the API imported them.
        from folio.assets import browse, previews  # noqa: F401
