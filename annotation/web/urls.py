from django.contrib.auth import views as auth_views
from django.urls import path

from annotation.web import authoring_views, pages, quality, reviewing, workspace

urlpatterns = [
    path("", pages.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("p/<slug:slug>/annotate/", workspace.annotate, name="annotate"),
    path("p/<slug:slug>/annotate/<int:pk>/submit/", workspace.submit, name="task-submit"),
    path("p/<slug:slug>/annotate/<int:pk>/skip/", workspace.skip, name="task-skip"),
    path("p/<slug:slug>/annotate/<int:pk>/draft/", workspace.draft, name="task-draft"),
    path("p/<slug:slug>/annotate/<int:pk>/hints/", workspace.hints, name="task-hints"),
    path("p/<slug:slug>/preview/", workspace.preview, name="preview"),
    path("p/<slug:slug>/work/", pages.my_work, name="my-work"),
    path("p/<slug:slug>/work/<int:pk>/", pages.work_edit, name="work-edit"),
    path("p/<slug:slug>/author/", authoring_views.author, name="author"),
    path("p/<slug:slug>/author/<slug:mode>/", authoring_views.author, name="author-mode"),
    path("p/<slug:slug>/author/<slug:mode>/draft/", authoring_views.author_draft, name="author-draft"),
    path("p/<slug:slug>/author/<slug:mode>/hints/", authoring_views.author_hints, name="author-hints"),
    path("p/<slug:slug>/items/<int:item_id>/paraphrases/", pages.paraphrases, name="paraphrases"),
    path("p/<slug:slug>/documents/", pages.documents, name="documents"),
    path("p/<slug:slug>/review/", reviewing.queue, name="review"),
    path("p/<slug:slug>/review/<int:pk>/", reviewing.history, name="review-history"),
    path("p/<slug:slug>/quality/", quality.overview, name="quality"),
    path("p/<slug:slug>/quality/summary/", quality.agreement_summary, name="quality-agreement-summary"),
    path("p/<slug:slug>/quality/annotators/", quality.annotators, name="quality-annotators"),
    path("p/<slug:slug>/quality/agreement/", quality.agreement, name="quality-agreement"),
    path("p/<slug:slug>/quality/coverage/", quality.coverage, name="quality-coverage"),
    path("p/<slug:slug>/quality/disputes/", quality.disputes, name="quality-disputes"),
    path("p/<slug:slug>/quality/disputes/<int:item_id>/", reviewing.adjudication, name="adjudicate"),
    path("p/<slug:slug>/quality/duplicates/", quality.duplicates, name="quality-duplicates"),
    path("p/<slug:slug>/quality/consistency/", quality.consistency, name="quality-consistency"),
    path("p/<slug:slug>/items/<int:item_id>/", quality.item_detail, name="item"),
    path("p/<slug:slug>/members/<str:username>/remove/", reviewing.member_remove, name="member-remove"),
]
