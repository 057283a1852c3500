"""Public share-link addresses (no login), mounted at /share/ in folio/urls.py."""

from django.urls import path

from folio.assets import share_views

app_name = "share"
urlpatterns = [
    path("<str:token>/", share_views.share_page, name="page"),
    path("<str:token>/zip", share_views.download_zip, name="zip"),
    path("<str:token>/<int:asset_id>", share_views.download, name="download"),
    path("<str:token>/<int:asset_id>/thumb", share_views.thumbnail, name="thumb"),
]
