from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from folio.accounts.forms import AdminLoginForm, LoginForm
from folio.api import api
from folio.assets.webhook_views import dam_webhook
from folio.monitoring import views as monitoring

admin.site.login_form = AdminLoginForm  # the same limits on guessing as /login/

urlpatterns = [
    path("api/", api.urls),
    # Probes for load balancers (no login, nothing secret) and Prometheus (token or admin).
    path("health/live", monitoring.live, name="health-live"),
    path("health/ready", monitoring.ready, name="health-ready"),
    path("metrics", monitoring.prometheus, name="metrics"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=LoginForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the footer's switcher
    # folio.js's messages in the page's language (no login: the sign-in page uses it too).
    path("i18n/js/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
    path("share/", include("folio.assets.share_urls")),  # public share links, no login
    path("webhooks/dam/<slug:system_code>", dam_webhook),  # HMAC-signed, no session
    path("img/", include("folio.renditions.delivery_urls")),  # rendition delivery, no login
    path("", include("folio.web.urls")),
]
