"""Dashboards for reviewers and admins: overview, annotators, agreement, coverage, disputes; each table as CSV."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation.comments import comments_for
from annotation.errors import Conflict, InvalidInput
from annotation.metrics.consistency import refusal_conflicts, response_style
from annotation.metrics.coverage import annotations_per_day, domains_and_languages, safety_balance, task_type_mix
from annotation.metrics.project import cached_pairwise_metrics
from annotation.metrics.summary import overview_figures
from annotation.models import Adjudication, AnnotationEdit, Item, Review
from annotation.neardup import clusters, unsigned_count
from annotation.payload_display import readable_diff
from annotation.review import item_set_gold
from annotation.selectors import STAFF_ROLES, membership_for
from annotation.tags import item_tags, items_tag
from annotation.taxonomy import PAIRWISE_KINDS, Role
from annotation.web.auth import session_required
from annotation.web.data_forms import ItemTagForm
from annotation.web.forms import GoldForm, cleaned, invalid, refused
from annotation.web.review_forms import DisputeFilterForm, adjudicated_label
from annotation.web.tables import bars, csv_response, table_query

ANNOTATOR_COLUMNS = [
    "annotator",
    "judgments",
    "loo_agreement",
    "gold_accuracy",
    "gold_n",
    "left_share",
    "tie_rate",
    "longer_share",
    "median_seconds",
    "self_consistency",
    "repeat_n",
    "flags",
]


def _staff(request, slug):
    return membership_for(request.user, slug, *STAFF_ROLES)


@session_required
def overview(request, slug):
    project = _staff(request, slug).project
    per_day = annotations_per_day(project)
    days: dict[str, int] = {}
    for row in per_day:
        days[row["day"]] = days.get(row["day"], 0) + row["annotations"]
    context = {
        "project": project,
        **overview_figures(project),
        "mix": bars(task_type_mix(project), "task_type", "share", "target"),
        "safety": safety_balance(project),
        "days": bars([{"day": d, "n": n} for d, n in days.items()], "day", "n"),
    }
    return render(request, "quality/overview.html", context)


@session_required
def agreement_summary(request, slug):
    """The headline agreement figures and the most flagged annotators, loaded after the overview renders."""
    project = _staff(request, slug).project
    metrics = cached_pairwise_metrics(project)
    flagged = [row for row in metrics["annotators"] if row["flags"]][:3]
    return render(request, "quality/_agreement_summary.html", {"project": project, "m": metrics, "flagged": flagged})


@session_required
@table_query("gold")
def annotators(request, slug, table, csv):
    project = _staff(request, slug).project
    metrics = cached_pairwise_metrics(project)
    if table == "gold" and csv:
        columns = ["annotator", "week", "gold_n", "gold_accuracy"]
        return csv_response(f"{slug}-gold-by-week", metrics["gold_by_week"], columns)
    if csv:
        return csv_response(f"{slug}-annotators", metrics["annotators"], ANNOTATOR_COLUMNS)
    context = {"project": project, "rows": metrics["annotators"], "gold_by_week": metrics["gold_by_week"]}
    return render(request, "quality/annotators.html", context)


@session_required
@table_query()
def agreement(request, slug, table, csv):
    project = _staff(request, slug).project
    metrics = cached_pairwise_metrics(project)
    if csv:
        return csv_response(f"{slug}-annotator-pairs", metrics["pairs"], ["a", "b", "n", "kappa"])
    return render(request, "quality/agreement.html", {"project": project, "m": metrics})


@session_required
@table_query("mix", "safety", "domains", "languages", "days")
def coverage(request, slug, table, csv):
    project = _staff(request, slug).project
    mix, safety, spread = task_type_mix(project), safety_balance(project), domains_and_languages(project)
    table = table or "mix"
    if csv:
        tables = {
            "mix": (mix, ["task_type", "items", "annotated", "share", "target", "deficit"]),
            "safety": (safety, ["harm_category", "refuse", "comply", "flag"]),
            "domains": (spread["domains"], ["domain", "items"]),
            "languages": (spread["languages"], ["language", "items"]),
            "days": (annotations_per_day(project), ["day", "kind", "annotations"]),
        }
        rows, columns = tables[table]
        return csv_response(f"{slug}-coverage-{table}", rows, columns)
    context = {
        "project": project,
        "mix": mix,
        "mix_bars": bars(mix, "task_type", "share", "target"),
        "safety": safety,
        **spread,
    }
    return render(request, "quality/coverage.html", context)


@session_required
@table_query("rankings")
def disputes(request, slug, table, csv):
    project = _staff(request, slug).project
    metrics = cached_pairwise_metrics(project)
    rows, ranked = metrics["disputed"], metrics["rankings"]["disputed"]
    shown = DisputeFilterForm(request.GET)
    if not shown.is_valid():
        return refused(invalid(shown), status=400)
    ids = [row["item"] for row in rows + ranked]
    prompts = dict(Item.objects.filter(id__in=ids).values_list("id", "prompt"))
    final = dict(Adjudication.objects.filter(item_id__in=ids).values_list("item_id", "choice"))
    for row in rows + ranked:
        row["prompt"] = prompts.get(row["item"], "")
        row["adjudicated"] = adjudicated_label(final[row["item"]]) if row["item"] in final else ""
    if shown.cleaned_data["open"]:
        rows, ranked = (
            [row for row in rows if not row["adjudicated"]],
            [row for row in ranked if not row["adjudicated"]],
        )
    if csv and table == "rankings":
        return csv_response(f"{slug}-disputed-rankings", ranked, ["item", "judgments", "kendall_w", "prompt"])
    if csv:
        columns = ["item", "judgments", "agreement", "response_0", "response_1", "tie", "prompt"]
        return csv_response(f"{slug}-disputes", rows, columns)
    context = {"project": project, "rows": rows, "ranked": ranked, "open_only": shown.cleaned_data["open"]}
    return render(request, "quality/disputes.html", context)


@session_required
@table_query()
def duplicates(request, slug, table, csv):
    project = _staff(request, slug).project
    rows = clusters(project)
    if csv:
        for row in rows:
            row["size"] = len(row["members"]) + 1
        return csv_response(f"{slug}-near-duplicates", rows, ["root", "size", "members", "prompt"])
    context = {
        "project": project,
        "rows": rows,
        "pending": unsigned_count(project),
        "conflicts": refusal_conflicts(project),
    }
    return render(request, "quality/duplicates.html", context)


@session_required
def item_detail(request, slug, item_id):
    """One item for reviewers: its content, tags, every annotation, its near-duplicates; admins set its gold
    answer."""
    membership = _staff(request, slug)
    item = get_object_or_404(Item, id=item_id, project=membership.project)
    if request.method == "POST":
        if membership.role != Role.ADMIN:
            raise PermissionDenied("Only project admins set gold answers.")
        try:
            item = item_set_gold(membership=membership, item_id=item.id, gold=_gold_from_form(item, request.POST))
            messages.success(request, "Gold answer saved." if item.is_gold else "No longer a gold item.")
            return redirect("item", slug=slug, item_id=item.id)
        except InvalidInput as exc:
            return _item_page(request, membership, item, error=exc.message)
    return _item_page(request, membership, item)


@session_required
@require_POST
def item_tag(request, slug, item_id):
    """Add a tag to the item, or remove one (reviewers and admins), then back to the item page."""
    membership = _staff(request, slug)
    item = get_object_or_404(Item, id=item_id, project=membership.project)
    try:
        data = cleaned(ItemTagForm(request.POST))
        adding, tag = data["action"] == "add", [data["tag"]]
        items_tag(
            project=membership.project,
            by=request.user,
            item_ids=[item.id],
            add=tag if adding else [],
            remove=[] if adding else tag,
        )
    except (InvalidInput, Conflict) as exc:
        return _item_page(
            request, membership, item, error=exc.message, status=409 if isinstance(exc, Conflict) else 422
        )
    messages.success(request, f"Tag {data['tag']} {'added' if adding else 'removed'}.")
    return redirect("item", slug=slug, item_id=item.id)


def _item_page(request, membership, item: Item, *, error: str | None = None, status: int = 422):
    context = {
        "project": membership.project,
        "item": item,
        "tags": item_tags([item.id]).get(item.id, []),
        "judgments": item_history(item),
        "comments": comments_for(membership, item_id=item.id),
        "item_id": item.id,
        "duplicates": Item.objects.filter(Q(duplicate_of=item.duplicate_of_id or item.id) | Q(id=item.duplicate_of_id))
        .exclude(id=item.id)
        .order_by("id")[:50],
        "error": error,
    }
    return render(request, "quality/item.html", context, status=status if error else 200)


def item_history(item) -> list[dict]:
    """Every annotation of the item with its reviews and the annotator's own edits, each with its payload diff."""
    annotations = (
        item.annotations.select_related("annotator")
        .prefetch_related(
            Prefetch("reviews", queryset=Review.objects.select_related("reviewer").order_by("id")),
            Prefetch("edits", queryset=AnnotationEdit.objects.select_related("editor").order_by("id")),
        )
        .order_by("id")
    )
    return [
        {
            "annotation": annotation,
            "reviews": [
                (review, readable_diff(review.payload_before, review.payload_after))
                for review in annotation.reviews.all()
            ],
            "edits": [
                (edit, readable_diff(edit.payload_before, edit.payload_after)) for edit in annotation.edits.all()
            ],
        }
        for annotation in annotations
    ]


def _gold_from_form(item, data):
    gold = cleaned(GoldForm(data, item=item))
    if gold["action"] == "clear":
        return None
    if item.kind in PAIRWISE_KINDS:
        return {"choice": gold["choice"]}
    return {"response": gold["response"]}


@session_required
@table_query()
def consistency(request, slug, table, csv):
    project = _staff(request, slug).project
    style = response_style(project)
    if csv:
        columns = [
            "annotator",
            "responses",
            "median_chars",
            "list_share",
            "heading_share",
            "code_share",
            "refusals_read_as_refusal",
            "answerable_refused",
            "flags",
        ]
        return csv_response(f"{slug}-response-style", style["annotators"], columns)
    return render(request, "quality/consistency.html", {"project": project, **style})
