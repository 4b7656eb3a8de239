from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotation.api import views
from annotation.api.errors import unknown_endpoint
from config.middleware import inline_styles_allowed

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
    path("assignments/<int:pk>/submit/", views.AssignmentSubmit.as_view(), name="api-assignment-submit"),
    path("assignments/<int:pk>/skip/", views.AssignmentSkip.as_view(), name="api-assignment-skip"),
    path("assignments/<int:pk>/draft/", views.AssignmentDraft.as_view(), name="api-assignment-draft"),
    path("projects/<slug:slug>/archive/", views.ProjectArchive.as_view(), name="api-project-archive"),
    path("projects/<slug:slug>/unarchive/", views.ProjectUnarchive.as_view(), name="api-project-unarchive"),
    path("projects/<slug:slug>/guidelines/", views.ProjectGuidelines.as_view(), name="api-guidelines"),
    path("projects/<slug:slug>/audit/", views.ProjectAudit.as_view(), name="api-audit"),
    path("users/", views.UserCreate.as_view(), name="api-users"),
    path("projects/<slug:slug>/members/<str:username>/", views.MemberDetail.as_view(), name="api-member"),
    path("projects/<slug:slug>/invites/", views.InviteList.as_view(), name="api-invites"),
    path("invites/<int:pk>/", views.InviteDetail.as_view(), name="api-invite"),
    path("auth/tokens/", views.ApiTokenList.as_view(), name="api-tokens"),
    path("auth/tokens/<int:pk>/", views.ApiTokenDetail.as_view(), name="api-token-detail"),
    path("projects/<slug:slug>/items/bulk/", views.ItemBulk.as_view(), name="api-items-bulk"),
    path("projects/<slug:slug>/items/export/", views.ItemExport.as_view(), name="api-items-export"),
    path("projects/<slug:slug>/comments/", views.CommentList.as_view(), name="api-comments"),
    path("comments/<int:pk>/resolve/", views.CommentResolve.as_view(), name="api-comment-resolve"),
    path("projects/<slug:slug>/imports/", views.ImportJobCreate.as_view(), name="api-imports"),
    path("imports/<int:pk>/", views.ImportJobDetail.as_view(), name="api-import"),
    path("imports/<int:pk>/start/", views.ImportJobStart.as_view(), name="api-import-start"),
    path("imports/<int:pk>/created/", views.ImportJobCreated.as_view(), name="api-import-created"),
    path("projects/<slug:slug>/documents/", views.DocumentList.as_view(), name="api-documents"),
    path("documents/<int:pk>/", views.DocumentDetail.as_view(), name="api-document"),
    re_path(r"^(?P<path>.*)$", unknown_endpoint),
]
