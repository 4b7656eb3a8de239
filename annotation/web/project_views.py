"""Admin pages of a project: create, settings, archive, delete, guidelines (editor, history, view) and the audit log."""

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from annotation.audit import Action, audit_events
from annotation.errors import Conflict, InvalidInput
from annotation.guidelines import guidelines_diff, guidelines_save
from annotation.markdown import render_markdown
from annotation.models import Project
from annotation.project_settings import (
    FLAGS,
    mix_total,
    project_archive,
    project_delete,
    project_unarchive,
    project_update,
    settings_check,
)
from annotation.projects import project_create
from annotation.selectors import membership_for
from annotation.taxonomy import Kind, Role
from annotation.web.auth import session_required
from annotation.web.forms import invalid, refused
from annotation.web.project_forms import (
    AuditFilterForm,
    ConfirmDeleteForm,
    GuidelinesForm,
    GuidelinesPreviewForm,
    ProjectCreateForm,
    ProjectSettingsForm,
    settings_initial,
)

AUDIT_PAGE_SIZE = 50


def _form_errors(form) -> dict[str, str]:
    return {name: f"{name}: {messages[0]}" for name, messages in form.errors.items()}


def _service_errors(exc: InvalidInput) -> dict[str, str]:
    errors = {e["field"]: f"{e['field']}: {e['message']}" for e in exc.errors}
    return errors or {exc.field or "form": exc.message}


@session_required
@require_http_methods(["GET", "POST"])
def project_new(request):
    """Create a project (staff users), its creator its first admin; the settings page takes it from there."""
    if not request.user.is_staff:
        raise PermissionDenied("Only staff users create projects.")
    values, errors = {"kinds": list(Kind.values), "overlap": 1}, {}
    if request.method == "POST":
        form = ProjectCreateForm(request.POST)
        values = {**request.POST.dict(), "kinds": request.POST.getlist("kinds")}
        if not form.is_valid():
            errors = _form_errors(form)
        else:
            data = form.cleaned_data
            try:
                fields = ("name", "kinds", "overlap", "queue_choice")
                checked = settings_check({name: data[name] for name in fields}, current=Project())
                project = project_create(creator=request.user, slug=data["slug"], **checked)
                messages.success(request, f"Created {project.name}. Set it up below.")
                return redirect("project-settings", slug=project.slug)
            except (InvalidInput, Conflict) as exc:
                errors = _service_errors(exc)
    context = {"values": values, "errors": errors, "kinds": Kind.values}
    return render(request, "projects/new.html", context, status=422 if errors else 200)


def _settings_context(project, values: dict, errors: dict) -> dict:
    mix = {task_type: values.get(f"mix_{task_type}", "") for task_type in project.task_types}
    shares = {}
    for task_type, percent in mix.items():
        try:
            shares[task_type] = float(percent) / 100 if percent not in ("", None) else 0.0
        except ValueError:
            shares[task_type] = 0.0
    total = mix_total(shares)
    return {
        "project": project,
        "values": values,
        "errors": errors,
        "kinds": Kind.values,
        "mix": mix,
        "mix_percent": round(total * 100, 2),
        "mix_off": bool(shares) and abs(total - 1) > 0.0001,
    }


@session_required
@require_http_methods(["GET", "POST"])
def project_settings(request, slug):
    membership = membership_for(request.user, slug, Role.ADMIN)
    project = membership.project
    values, errors = settings_initial(project), {}
    if request.method == "POST":
        form = ProjectSettingsForm(request.POST, task_types=project.task_types)
        values = {**request.POST.dict(), "kinds": request.POST.getlist("kinds")}
        for flag in FLAGS:
            values[flag] = flag in request.POST
        if not form.is_valid():
            errors = _form_errors(form)
        else:
            try:
                project_update(project=project, by=request.user, **form.settings())
                messages.success(request, "Settings saved.")
                return redirect("project-settings", slug=slug)
            except InvalidInput as exc:
                errors = _service_errors(exc)
            except Conflict as exc:
                errors = {"form": exc.message}
    context = _settings_context(project, values, errors)
    return render(request, "projects/settings.html", context, status=422 if errors else 200)


@session_required
@require_POST
def archive(request, slug):
    return _archiving(request, slug, project_archive, "Archived: the project is read-only until it is unarchived.")


@session_required
@require_POST
def unarchive(request, slug):
    return _archiving(request, slug, project_unarchive, "Unarchived: annotators can work on the project again.")


def _archiving(request, slug, service, done: str):
    membership = membership_for(request.user, slug, Role.ADMIN)
    try:
        service(project=membership.project, by=request.user)
        messages.success(request, done)
    except Conflict as exc:
        messages.error(request, exc.message)
    return redirect("project-settings", slug=slug)


@session_required
@require_http_methods(["GET", "POST"])
def delete(request, slug):
    """Ask for the project's name, then delete it with all its data."""
    membership = membership_for(request.user, slug, Role.ADMIN)
    project = membership.project
    error, typed = None, ""
    if request.method == "POST":
        form = ConfirmDeleteForm(request.POST)
        typed = request.POST.get("confirm", "")
        try:
            if not form.is_valid():
                raise invalid(form)
            project_delete(project=project, by=request.user, confirm_name=form.cleaned_data["confirm"])
            messages.success(request, f"Deleted {project.name}.")
            return redirect("home")
        except (InvalidInput, Conflict) as exc:
            error = exc.message
    context = {"project": project, "error": error, "typed": typed}
    return render(request, "projects/delete.html", context, status=422 if error else 200)


@session_required
def guidelines(request, slug):
    """The current guidelines, for every member."""
    membership = membership_for(request.user, slug)
    project = membership.project
    context = {"project": project, "html": render_markdown(project.guidelines)}
    return render(request, "projects/guidelines.html", context)


@session_required
@require_http_methods(["GET", "POST"])
def guidelines_edit(request, slug):
    """The markdown editor: save a new version (with a note), preview, and the history of versions."""
    membership = membership_for(request.user, slug, Role.ADMIN)
    project = membership.project
    values, error, preview = {"text": project.guidelines, "note": ""}, None, None
    if request.method == "POST":
        form = GuidelinesForm(request.POST)
        values = {"text": request.POST.get("text", ""), "note": request.POST.get("note", "")}
        try:
            if not form.is_valid():
                raise invalid(form)
            data = form.cleaned_data
            if data["action"] == "preview":
                preview = render_markdown(data["text"])
            else:
                saved = guidelines_save(project=project, by=request.user, text=data["text"], note=data["note"])
                messages.success(request, f"Saved as version {saved.number}.")
                return redirect("guidelines-edit", slug=slug)
        except (InvalidInput, Conflict) as exc:
            error = exc.message
    context = {
        "project": project,
        "values": values,
        "error": error,
        "preview": preview,
        "versions": project.guideline_versions.select_related("author").order_by("-number"),
    }
    return render(request, "projects/guidelines_edit.html", context, status=422 if error else 200)


@session_required
@require_POST
def guidelines_preview(request, slug):
    """The editor's preview (htmx): the text as annotators will see it, rendered and sanitised."""
    membership_for(request.user, slug, Role.ADMIN)
    form = GuidelinesPreviewForm(request.POST)
    if not form.is_valid():
        return refused(invalid(form))
    return render(request, "annotation/_preview.html", {"html": render_markdown(form.cleaned_data["text"])})


@session_required
def guidelines_version(request, slug, number):
    """One version of the guidelines and what it changed from the one before."""
    membership = membership_for(request.user, slug, Role.ADMIN)
    project = membership.project
    version = project.guideline_versions.select_related("author").filter(number=number).first()
    if version is None:
        raise Http404("No such version.")
    context = {
        "project": project,
        "version": version,
        "rows": guidelines_diff(project, number - 1, number) if number else [],
        "html": render_markdown(version.text),
    }
    return render(request, "projects/guidelines_version.html", context)


def _shown(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def event_changes(event) -> list[tuple[str, str, str]]:
    """An audit event as (key, before, after) rows; a side that is not an object shows whole under the key '-'."""
    before, after = event.before, event.after
    if not isinstance(before, dict) or not isinstance(after, dict):
        if before is None and isinstance(after, dict):
            before = {}
        elif after is None and isinstance(before, dict):
            after = {}
        else:
            return [("-", _shown(before), _shown(after))]
    keys = list(dict.fromkeys([*before, *after]))
    return [
        (key, _shown(before[key]) if key in before else "", _shown(after[key]) if key in after else "") for key in keys
    ]


@session_required
def audit(request, slug):
    """The audit log, newest first, filtered by action, actor and days."""
    membership = membership_for(request.user, slug, Role.ADMIN)
    project = membership.project
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        context = {"project": project, "form": form, "error": invalid(form).message, "actions": Action.choices}
        return render(request, "projects/audit.html", context, status=400)
    page = Paginator(audit_events(project, **form.filters()), AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "project": project,
        "form": form,
        "page": page,
        "rows": [(event, event_changes(event)) for event in page],
        "actions": Action.choices,
        "query": query.urlencode(),
    }
    return render(request, "projects/audit.html", context)
