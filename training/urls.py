from django.urls import path

from training import cycle_views, model_views, views

urlpatterns = [
    path("p/<slug:slug>/snapshots/", views.snapshots, name="snapshots"),
    path("p/<slug:slug>/snapshots/<int:version>/", views.snapshot, name="snapshot"),
    path("p/<slug:slug>/snapshots/<int:version>/files/<str:name>", views.snapshot_download, name="snapshot-file"),
    path("p/<slug:slug>/runs/<int:run_id>/", views.run, name="run"),
    path("p/<slug:slug>/runs/<int:run_id>/cancel/", views.run_cancel, name="run-cancel"),
    path("p/<slug:slug>/runs/<int:run_id>/metrics.json", views.run_metrics, name="run-metrics"),
    path("p/<slug:slug>/models/", model_views.models, name="models"),
    path("p/<slug:slug>/models/<str:name>/", model_views.model, name="model"),
    path("p/<slug:slug>/models/<str:name>/promote/", model_views.model_promote_view, name="model-promote"),
    path("p/<slug:slug>/models/<str:name>/reject/", model_views.model_reject_view, name="model-reject"),
    path(
        "p/<slug:slug>/cycles/<int:cycle_id>/collect-next/",
        model_views.cycle_collect_next,
        name="cycle-collect-next",
    ),
    path("p/<slug:slug>/cycles/<int:cycle_id>/errors/", model_views.cycle_errors, name="cycle-errors"),
    path("p/<slug:slug>/cycles/", cycle_views.cycles, name="cycles"),
    path("p/<slug:slug>/cycles/<int:cycle_id>/", cycle_views.cycle, name="cycle"),
    path("p/<slug:slug>/cycles/<int:cycle_id>/cancel/", cycle_views.cycle_cancel_view, name="cycle-cancel"),
    path("p/<slug:slug>/cycles/<int:cycle_id>/retry/", cycle_views.cycle_retry_view, name="cycle-retry"),
    path("p/<slug:slug>/schedule/", cycle_views.schedule, name="schedule"),
]
