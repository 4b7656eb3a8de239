from django.contrib.auth import views as auth_views
from django.urls import path

from annotation.web import authoring_views, pages, workspace

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
]
