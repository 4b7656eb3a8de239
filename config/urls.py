from django.contrib import admin
from django.urls import include, path

from config import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("version", health.version, name="version"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("training.api_urls")),
    path("api/v1/", include("annotation.api.urls")),
    path("", include("annotation.web.urls")),
    path("", include("training.urls")),
]
