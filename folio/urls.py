from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from folio.api import api
from folio.assets.webhook_views import dam_webhook

urlpatterns = [
    path("api/", api.urls),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("share/", include("folio.assets.share_urls")),  # public share links, no login
    path("webhooks/dam/<slug:system_code>", dam_webhook),  # HMAC-signed, no session
    path("img/", include("folio.renditions.delivery_urls")),  # rendition delivery, no login
    path("", include("folio.web.urls")),
]
