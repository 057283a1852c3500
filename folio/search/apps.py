from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "folio.search"
    label = "search"
    verbose_name = "Search"
