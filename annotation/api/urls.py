from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotation.api import views
from annotation.api.errors import unknown_endpoint
from config.middleware import inline_styles_allowed
from training import api as training_api
from training import cycle_api, model_api

urlpatterns = [
    path("auth/token/", views.TokenCreate.as_view(), name="api-token"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs/",
        inline_styles_allowed(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema", http_method_names=["get", "head"])
        ),
        name="api-docs",
    ),
    path("projects/", views.ProjectList.as_view(), name="api-projects"),
    path("projects/<slug:slug>/", views.ProjectDetail.as_view(), name="api-project"),
    path("projects/<slug:slug>/members/", views.MemberList.as_view(), name="api-members"),
    path("projects/<slug:slug>/items/", views.ItemList.as_view(), name="api-items"),
    path("projects/<slug:slug>/items/import/", views.ItemImport.as_view(), name="api-items-import"),
    path("projects/<slug:slug>/assignments/next/", views.AssignmentNext.as_view(), name="api-assignment-next"),
    path("projects/<slug:slug>/annotations/", views.AnnotationList.as_view(), name="api-annotations"),
    path("projects/<slug:slug>/metrics/", views.ProjectMetrics.as_view(), name="api-metrics"),
    path("projects/<slug:slug>/snapshots/", training_api.SnapshotList.as_view(), name="api-snapshots"),
    path("snapshots/<int:pk>/", training_api.SnapshotDetail.as_view(), name="api-snapshot"),
    path("snapshots/<int:pk>/files/<str:name>", training_api.SnapshotFile.as_view(), name="api-snapshot-file"),
    path("projects/<slug:slug>/runs/", training_api.TrainingRunList.as_view(), name="api-runs"),
    path("runs/<int:pk>/", training_api.TrainingRunDetail.as_view(), name="api-run"),
    path("runs/<int:pk>/cancel/", training_api.TrainingRunCancel.as_view(), name="api-run-cancel"),
    path("projects/<slug:slug>/models/", training_api.ModelVersionList.as_view(), name="api-models"),
    path("projects/<slug:slug>/leaderboard/", model_api.Leaderboard.as_view(), name="api-leaderboard"),
    path("models/", model_api.AllModelVersionList.as_view(), name="api-models-all"),
    path("models/<int:pk>/", training_api.ModelVersionDetail.as_view(), name="api-model"),
    path("models/<int:pk>/promote/", training_api.ModelVersionPromote.as_view(), name="api-model-promote"),
    path("models/<int:pk>/reject/", training_api.ModelVersionReject.as_view(), name="api-model-reject"),
    path("projects/<slug:slug>/cycles/", cycle_api.CycleList.as_view(), name="api-cycles"),
    path("cycles/<int:pk>/", cycle_api.CycleDetail.as_view(), name="api-cycle"),
    path("cycles/<int:pk>/cancel/", cycle_api.CycleCancel.as_view(), name="api-cycle-cancel"),
    path("cycles/<int:pk>/retry/", cycle_api.CycleRetry.as_view(), name="api-cycle-retry"),
    path("projects/<slug:slug>/schedule/", cycle_api.ScheduleDetail.as_view(), name="api-schedule"),
    path("assignments/<int:pk>/submit/", views.AssignmentSubmit.as_view(), name="api-assignment-submit"),
    path("assignments/<int:pk>/skip/", views.AssignmentSkip.as_view(), name="api-assignment-skip"),
    path("assignments/<int:pk>/draft/", views.AssignmentDraft.as_view(), name="api-assignment-draft"),
    re_path(r"^(?P<path>.*)$", unknown_endpoint),
]
