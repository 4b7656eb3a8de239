"""Model pages for reviewers and admins: every version of the project with its lineage, decisions, the leaderboard
and the win rate over cycles; one version's checks against the champion, human win rate and answers; promote and
reject (admins). "What to collect next" for a cycle, and its one-click coverage targets (admins). Annotators get 403
on every one of them: they never see which model wrote an answer."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from annotation.errors import Conflict, InvalidInput
from annotation.selectors import STAFF_ROLES, membership_for
from annotation.taxonomy import Role
from annotation.web.auth import session_required
from training.charts import win_rate_chart
from training.checks import LENGTHS, RATES, RUN_FIGURES
from training.collect_next import collect_next, coverage_prioritise
from training.cycles import cycle_answers
from training.leaderboard import project_leaderboard
from training.model_forms import PrioritiseForm, PromoteForm, RejectForm, first_error
from training.models import Cycle, ModelDecision, ModelVersion
from training.promotion import model_promote, model_reject

ANSWERS_PER_PAGE = 20
LINEAGE_LIMIT = 200
DECIDED = (Cycle.Status.SUCCEEDED, Cycle.Status.WAITING)
GROUP_LABELS = {"by_task_type": "task type", "by_harm_category": "harm category"}


def _versions(project):
    decisions = Prefetch("decisions", ModelDecision.objects.select_related("decided_by").order_by("id"))
    return (
        ModelVersion.objects.filter(project=project)
        .select_related("parent", "snapshot", "run")
        .prefetch_related(decisions)
    )


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
        "versions": _versions(project).order_by("-id"),
        "leaderboard": project_leaderboard(project),
        "win_rates": rates,
        "chart": win_rate_chart(rates),
    }
    return render(request, "training/models.html", context)


def _lineage(version: ModelVersion) -> list[ModelVersion]:
    """The version's ancestors, parent first, back to the base model."""
    chain, seen = [], {version.id}
    found = version.parent
    while found is not None and found.id not in seen and len(chain) < LINEAGE_LIMIT:
        chain.append(found)
        seen.add(found.id)
        found = ModelVersion.objects.select_related("parent", "snapshot", "run").get(id=found.id).parent
    return chain


def _rate_rows(comparison: dict, scope: str) -> list[dict]:
    """Rows of (group, figure, candidate, champion, delta, n, regressed) for one scope of compare_checks' output;
    figures neither model was checked on are left out."""
    rows = []
    for figure, (label, _, safety) in RATES.items():
        deltas = comparison["rates"][figure][scope]
        for group, delta in [("", deltas)] if scope == "overall" else sorted(deltas.items()):
            if delta["candidate_n"] or delta["champion_n"]:
                change = "—" if delta["delta"] is None else f"{100 * delta['delta']:+.0f} pts"
                rows.append({"group": group, "figure": label, "safety": safety, "change": change, **delta})
    return sorted(rows, key=lambda row: row["group"]) if scope != "overall" else rows


def checks_side_by_side(cycle: Cycle) -> dict | None:
    """The cycle's automatic checks of candidate and champion, shaped for the model page; None before they ran."""
    comparison = cycle.results.get("comparison")
    if not comparison:
        return None
    lengths = comparison["length"]["overall"]
    return {
        "overall": _rate_rows(comparison, "overall"),
        "groups": {label: _rate_rows(comparison, scope) for scope, label in GROUP_LABELS.items()},
        "length": [{"figure": stat.replace("_", " "), **lengths[stat]} for stat in LENGTHS],
        "run": [
            {"figure": RUN_FIGURES[name][0], **delta}
            for name, delta in comparison["run"].items()
            if delta["candidate"] is not None or delta["champion"] is not None
        ],
        "regressions": comparison["regressions"],
    }


def _answers_page(request, cycle: Cycle | None, side: str):
    if cycle is None:
        return None, ""
    try:
        rows = cycle_answers(cycle, side)
    except (KeyError, OSError, ValueError):
        return None, "The answer file of this cycle is missing or unreadable."
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
    version = get_object_or_404(_versions(project), name=name)
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
        "checks": checks_side_by_side(as_candidate) if as_candidate else None,
        "human": (as_candidate.results.get("human") if as_candidate else None) or None,
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
    groups = collect_next(cycle)
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
    context = {"project": project, "cycle": cycle, "groups": groups, "coverage": coverage}
    return render(request, "training/collect_next.html", context)
