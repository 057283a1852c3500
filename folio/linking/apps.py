from django.apps import AppConfig


class LinkingConfig(AppConfig):
    name = "folio.linking"
    label = "linking"
    verbose_name = "Product media links"
