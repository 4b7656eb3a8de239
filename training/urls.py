from django.urls import path

from training import views

urlpatterns = [
    path("p/<slug:slug>/snapshots/", views.snapshots, name="snapshots"),
    path("p/<slug:slug>/snapshots/<int:version>/", views.snapshot, name="snapshot"),
    path("p/<slug:slug>/snapshots/<int:version>/files/<str:name>", views.snapshot_download, name="snapshot-file"),
    path("p/<slug:slug>/runs/<int:run_id>/", views.run, name="run"),
    path("p/<slug:slug>/runs/<int:run_id>/cancel/", views.run_cancel, name="run-cancel"),
]
