from django.contrib import admin
from django.urls import include, path

from annotation import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("annotation.api.urls")),
]
