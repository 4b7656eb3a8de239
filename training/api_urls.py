"""The training API under /api/v1/ (config/urls.py includes it before the annotation API and its catch-all)."""

from django.urls import path

from training import api, cycle_api, model_api

urlpatterns = [
    path("projects/<slug:slug>/snapshots/", api.SnapshotList.as_view(), name="api-snapshots"),
    path("snapshots/<int:pk>/", api.SnapshotDetail.as_view(), name="api-snapshot"),
    path("snapshots/<int:pk>/files/<str:name>", api.SnapshotFile.as_view(), name="api-snapshot-file"),
    path("projects/<slug:slug>/runs/", api.TrainingRunList.as_view(), name="api-runs"),
    path("runs/<int:pk>/", api.TrainingRunDetail.as_view(), name="api-run"),
    path("runs/<int:pk>/cancel/", api.TrainingRunCancel.as_view(), name="api-run-cancel"),
    path("projects/<slug:slug>/models/", api.ModelVersionList.as_view(), name="api-models"),
    path("projects/<slug:slug>/leaderboard/", model_api.Leaderboard.as_view(), name="api-leaderboard"),
    path("models/", model_api.AllModelVersionList.as_view(), name="api-models-all"),
    path("models/<int:pk>/", api.ModelVersionDetail.as_view(), name="api-model"),
    path("models/<int:pk>/promote/", api.ModelVersionPromote.as_view(), name="api-model-promote"),
    path("models/<int:pk>/reject/", api.ModelVersionReject.as_view(), name="api-model-reject"),
    path("projects/<slug:slug>/cycles/", cycle_api.CycleList.as_view(), name="api-cycles"),
    path("cycles/<int:pk>/", cycle_api.CycleDetail.as_view(), name="api-cycle"),
    path("cycles/<int:pk>/cancel/", cycle_api.CycleCancel.as_view(), name="api-cycle-cancel"),
    path("cycles/<int:pk>/retry/", cycle_api.CycleRetry.as_view(), name="api-cycle-retry"),
    path("projects/<slug:slug>/schedule/", cycle_api.ScheduleDetail.as_view(), name="api-schedule"),
]
