"""What the web UI keeps for each person: their saved filters of the product grid and the
asset library. Domain data lives in the domain apps; this is only a preference."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class SavedFilter(models.Model):
    class Area(models.TextChoices):
        PRODUCTS = "products"
        ASSETS = "assets"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters"
    )
    area = models.CharField(max_length=20, choices=Area.choices, default=Area.PRODUCTS)
    name = models.CharField(max_length=100)
    query = models.CharField(max_length=2000, blank=True)  # the page's query string
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "area", "name"], name="saved_filter_name_once")
        ]

    def __str__(self):
        return self.name
