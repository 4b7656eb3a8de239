"""Model pages for reviewers and admins: every version of the project with its lineage, decisions, the leaderboard
and the win rate over cycles; one version's checks against the champion, human win rate and answers; promote and
reject (admins). A cycle's error analysis, "what to collect next" from it, and its one-click coverage targets
(admins). Annotators get 403 on every one of them: they never see which model wrote an answer."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from annotation.errors import Conflict, InvalidInput
from annotation.selectors import STAFF_ROLES, membership_for
from annotation.taxonomy import Role
from annotation.web.auth import session_required
from training.api import model_versions
from training.charts import win_rate_chart
from training.check_tables import check_table
from training.collect_next import collect_next, coverage_prioritise
from training.cycles import cycle_answers
from training.error_analysis import ROW_KEYS, eval_failures, failure_groups, nearest_training_items
from training.error_forms import FailureFilterForm
from training.evaluation_tables import evaluation_tables
from training.leaderboard import project_leaderboard
from training.model_forms import PrioritiseForm, PromoteForm, RejectForm, first_error
from training.models import Cycle, ModelVersion
from training.promotion import model_promote, model_reject

ANSWERS_PER_PAGE = 20
FAILURES_PER_PAGE = 25
UNREADABLE = "The answer file of this cycle is missing or unreadable."
DECIDED = (Cycle.Status.SUCCEEDED, Cycle.Status.WAITING)


def win_rates_over_cycles(project) -> list[dict]:
    """The candidate's human win rate against the champion for each finished or waiting cycle, oldest first."""
    cycles = (
        Cycle.objects.filter(project=project, status__in=DECIDED, candidate__isnull=False, champion__isnull=False)
        .select_related("candidate", "champion")
        .order_by("id")
    )
    rows = []
    for cycle in cycles:
        overall = (cycle.results.get("human") or {}).get("overall")
        if overall:
            rows.append(
                {
                    "cycle": cycle,
                    "label": f"{cycle.candidate.name} vs {cycle.champion.name}",
                    "rate": overall["rate"],
                    "interval": overall["interval"],
                    "n": overall["n"],
                    "decision": (cycle.results.get("decision") or {}).get("decision", ""),
                }
            )
    return rows


@session_required
def models(request, slug):
    project = membership_for(request.user, slug, *STAFF_ROLES).project
    rates = win_rates_over_cycles(project)
    context = {
        "project": project,
        "versions": model_versions().filter(project=project).order_by("-id"),
        "leaderboard": project_leaderboard(project),
        "win_rates": rates,
        "chart": win_rate_chart(rates),
    }
    return render(request, "training/models.html", context)


def _lineage(version: ModelVersion) -> list[ModelVersion]:
    """The version's ancestors, parent first, back to the base model."""
    versions = ModelVersion.objects.filter(project_id=version.project_id).select_related("snapshot").in_bulk()
    chain, seen = [], {version.id}
    parent_id = version.parent_id
    while parent_id in versions and parent_id not in seen:
        seen.add(parent_id)
        chain.append(versions[parent_id])
        parent_id = versions[parent_id].parent_id
    return chain


def _answers_page(request, cycle: Cycle | None, side: str):
    if cycle is None:
        return None, ""
    try:
        rows = cycle_answers(cycle, side)
    except (KeyError, OSError, ValueError):
        return None, UNREADABLE
    shown = [
        {
            "id": row.get("id"),
            "task_type": row.get("task_type") or "",
            "prompt": next(
                (m.get("content") or "" for m in reversed(row.get("messages") or []) if m.get("role") == "user"), ""
            ),
            "response": row.get("response") or "",
            "paraphrase": "paraphrase_of" in row,
        }
        for row in rows
    ]
    return Paginator(shown, ANSWERS_PER_PAGE).get_page(request.GET.get("page")), ""


def _latest_cycle(version: ModelVersion, **side) -> Cycle | None:
    return (
        Cycle.objects.filter(project=version.project, **side)
        .exclude(results={})
        .select_related("candidate", "champion", "snapshot")
        .order_by("-id")
        .first()
    )


@session_required
def model(request, slug, name):
    project = membership_for(request.user, slug, *STAFF_ROLES).project
    version = get_object_or_404(model_versions(), project=project, name=name)
    as_candidate = _latest_cycle(version, candidate=version)
    answered = as_candidate if as_candidate and "answers" in as_candidate.results else None
    side = "candidate"
    if answered is None:
        answered, side = _latest_cycle(version, champion=version, results__has_key="answers"), "champion"
    answers, answers_error = _answers_page(request, answered, side)
    context = {
        "project": project,
        "version": version,
        "lineage": _lineage(version),
        "cycle": as_candidate,
        "checks": check_table(as_candidate) if as_candidate else None,
        "human": as_candidate.results.get("human") if as_candidate else None,
        "evaluation": evaluation_tables(as_candidate) if as_candidate else None,
        "answers": answers,
        "answers_cycle": answered,
        "answers_error": answers_error,
        "can_promote": version.status in (ModelVersion.Status.CANDIDATE, ModelVersion.Status.RETIRED),
        "can_reject": version.status == ModelVersion.Status.CANDIDATE,
    }
    return render(request, "training/model.html", context)


def _decide(request, slug, name, form_class, service):
    project = membership_for(request.user, slug, Role.ADMIN).project
    version = get_object_or_404(ModelVersion, project=project, name=name)
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return redirect("model", slug=slug, name=name)
    try:
        decided = service(version=version, user=request.user, reason=form.cleaned_data["reason"])
        messages.success(request, f"{decided.name} is now {decided.status}.")
    except (Conflict, InvalidInput) as exc:
        messages.error(request, exc.message)
    return redirect("model", slug=slug, name=name)


@session_required
@require_POST
def model_promote_view(request, slug, name):
    return _decide(request, slug, name, PromoteForm, model_promote)


@session_required
@require_POST
def model_reject_view(request, slug, name):
    return _decide(request, slug, name, RejectForm, model_reject)


@session_required
@require_http_methods(["GET", "POST"])
def cycle_collect_next(request, slug, cycle_id):
    membership = membership_for(request.user, slug, *STAFF_ROLES)
    project = membership.project
    cycle = get_object_or_404(
        Cycle.objects.select_related("project", "snapshot", "candidate"), project=project, id=cycle_id
    )
    try:
        groups, error = collect_next(cycle), ""
    except (KeyError, OSError, ValueError):
        groups, error = [], UNREADABLE
    coverage = [
        row["group"] for row in groups if row["dimension"] == "task_type" and row["recommendation"] == "coverage"
    ]
    if request.method == "POST":
        if membership.role != Role.ADMIN:
            raise PermissionDenied("Only project admins set coverage targets.")
        form = PrioritiseForm(request.POST, choices=coverage)
        if not form.is_valid():
            messages.error(request, first_error(form))
        else:
            try:
                mix = coverage_prioritise(project=project, task_types=form.cleaned_data["task_types"])
                targets = ", ".join(f"{name} {share:.0%}" for name, share in sorted(mix.items()))
                messages.success(request, f"Coverage targets set and prioritised: {targets}.")
            except InvalidInput as exc:
                messages.error(request, exc.message)
        return redirect("cycle-collect-next", slug=slug, cycle_id=cycle.id)
    context = {"project": project, "cycle": cycle, "groups": groups, "coverage": coverage, "error": error}
    return render(request, "training/collect_next.html", context)


def _in_group(failure: dict, dimension: str, group: str) -> bool:
    value = failure[ROW_KEYS[dimension]]
    return group in value if isinstance(value, list) else value == group


@session_required
def cycle_errors(request, slug, cycle_id):
    project = membership_for(request.user, slug, *STAFF_ROLES).project
    cycle = get_object_or_404(
        Cycle.objects.select_related("project", "snapshot", "candidate", "champion"), project=project, id=cycle_id
    )
    try:
        failures = eval_failures(cycle)
        groups = failure_groups(cycle, failures)
        error = ""
    except (KeyError, OSError, ValueError):
        failures, groups, error = [], [], UNREADABLE
    names = {dimension: set() for dimension in ROW_KEYS}
    for group in groups:
        names[group["dimension"]].add(group["group"])
    form = FailureFilterForm(request.GET, groups=names)
    status, page = 200, None
    if not form.is_valid():
        status = 400
    else:
        wanted = form.cleaned_data
        shown = [
            failure
            for failure in failures
            if (not wanted["group"] or _in_group(failure, wanted["dimension"], wanted["group"]))
            and (not wanted["failure"] or failure["failure"] == wanted["failure"])
        ]
        page = Paginator(shown, FAILURES_PER_PAGE).get_page(wanted["page"])
        nearest_training_items(cycle.snapshot, list(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "project": project,
        "cycle": cycle,
        "ran": "checks" in cycle.results,
        "error": error,
        "groups": groups,
        "failures": failures,
        "form": form,
        "page": page,
        "query": query.urlencode(),
    }
    return render(request, "training/error_analysis.html", context, status=status)
