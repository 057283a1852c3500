from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "folio.catalog"
    label = "catalog"
    verbose_name = "Catalog"

    def ready(self):
        from folio.catalog import jobs  # noqa: F401  (registers the catalog's background jobs)
