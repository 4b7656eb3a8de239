"""The data browser: a project's items filtered, searched and sorted, for the staff table, the API and bulk actions.

Agreement is defined on the A/B judgments of pairwise items (self-consistency repeats left out), by the side each
judgment takes (the sign of its preference score: first response, second response, or tie):
- single: exactly one judgment;
- unanimous: two or more judgments, all on the same side;
- split: judgments on two or three different sides (a disagreement).
"""

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Sign
from django.utils import timezone

from annotation.models import Annotation, Assignment, Item, ItemTag, Membership
from annotation.review import WRITTEN
from annotation.selectors import STAFF_ROLES
from annotation.taxonomy import PAIRWISE_KINDS

STATUSES = ("open", "in_progress", "complete", "excluded", "gold")
AGREEMENTS = ("unanimous", "split", "single")
REVIEW_STATUSES = tuple(Annotation.ReviewStatus.values)
SORTS = {"id": "id", "created": "created_at", "completed": "completed_count", "task_type": "task_type", "kind": "kind"}
SORT_CHOICES = tuple(SORTS) + tuple(f"-{key}" for key in SORTS)
MIN_SEARCH_CHARS = 3
# A search reads at most this many matches from each of its sources (prompts, responses, annotations), the oldest
# first: the table pages through at most as many rows, and a common word stays as cheap as a rare one.
SEARCH_LIMIT = 10_000
# Filters whose test costs a lookup per item: with one of them, the count stops at COUNT_CAP ("over 1,000").
PER_ITEM_FILTERS = ("annotator", "agreement", "review_status", "q")
COUNT_CAP = 1_000
LIST_FIELDS = (
    "id",
    "kind",
    "prompt",
    "messages",
    "task_type",
    "domain",
    "completed_count",
    "extra_overlap",
    "open_slots",
    "is_gold",
    "excluded_reason",
    "created_at",
)

TAGS_BY_NAME = Prefetch("tags", queryset=ItemTag.objects.order_by("name"))
"""Prefetch for item.tags.all() in name order, one query for a page of items."""


def items_browse(
    membership: Membership,
    *,
    kind: str = "",
    task_type: str = "",
    domain: str = "",
    tag: str = "",
    status: str = "",
    annotator: str = "",
    agreement: str = "",
    review_status: str = "",
    gold: bool | None = None,
    created_from=None,
    created_to=None,
    q: str = "",
    sort: str = "id",
    search_limit: int | None = SEARCH_LIMIT,
) -> QuerySet[Item]:
    """The project's items matching every given filter, in `sort` order (id breaks ties): reviewers and admins.
    `search_limit=None` searches without SEARCH_LIMIT (for bulk actions on every match)."""
    if membership.role not in STAFF_ROLES:
        raise PermissionDenied("Only reviewers and admins browse the project's data.")
    project = membership.project
    items = Item.objects.filter(project=project)
    if kind:
        items = items.filter(kind=kind)
    if task_type:
        items = items.filter(task_type=task_type)
    if domain:
        items = items.filter(domain=domain)
    if tag:
        items = items.filter(tags__name=tag)
    if status:
        items = items.filter(_status(status, project.overlap))
    if annotator:
        items = items.filter(Exists(Annotation.objects.filter(item=OuterRef("pk"), annotator__username=annotator)))
    if agreement:
        items = items.filter(kind__in=PAIRWISE_KINDS).filter(_agreement(agreement))
    if review_status:
        reviewed = Annotation.objects.filter(WRITTEN, item=OuterRef("pk"), review_status=review_status)
        items = items.filter(Exists(reviewed))
    if gold is not None:
        items = items.filter(is_gold=gold)
    if created_from:
        items = items.filter(created_at__date__gte=created_from)
    if created_to:
        items = items.filter(created_at__date__lte=created_to)
    if q:
        # The first N matches of each source stand for the answer only when nothing else narrows it.
        narrowed = any(
            [kind, task_type, domain, tag, status, annotator, agreement, review_status, created_from, created_to]
        )
        unlimited = narrowed or gold is not None
        items = items.filter(id__in=_search(project, q, None if unlimited else search_limit))
    return items.order_by(*_ordering(sort))


def _status(status: str, overlap: int) -> Q:
    if status == "open":
        return Q(open_slots__gt=0, is_gold=False)
    if status == "in_progress":
        leases = Assignment.objects.filter(
            item=OuterRef("pk"), status=Assignment.Status.ACTIVE, expires_at__gt=timezone.now()
        )
        return Q(Exists(leases))
    if status == "complete":
        return Q(completed_count__gte=F("extra_overlap") + overlap)
    if status == "excluded":
        return ~Q(excluded_reason="")
    return Q(is_gold=True)


def _agreement(agreement: str) -> Q:
    judgments = (
        Annotation.objects.filter(item=OuterRef("pk"), is_repeat=False, preference_score__isnull=False)
        .values("item")
        .annotate(n=Count("id"), sides=Count(Sign("preference_score"), distinct=True))
    )
    if agreement == "single":
        return Q(Exists(judgments.filter(n=1)))
    if agreement == "unanimous":
        return Q(Exists(judgments.filter(n__gte=2, sides=1)))
    return Q(Exists(judgments.filter(sides__gte=2)))


def _search(project, q: str, limit: int | None) -> QuerySet:
    """Ids of the items whose prompt, responses or annotated response contains `q` (any case), up to `limit` of
    each, oldest first: a union of three reads, each stopping at its limit. Items' texts are scanned (migration 0011
    says why); annotated responses have a trigram index on PostgreSQL. SQLite cannot limit the parts of a union, so
    there a search reads every match."""
    items = Item.objects.filter(project=project)
    by_prompt = items.filter(prompt__icontains=q).values("id")
    by_responses = items.filter(responses__icontains=q).values("id")
    by_annotation = (
        Annotation.objects.filter(project=project)
        .alias(response=KT("payload__response"))
        .filter(response__icontains=q)
        .values("item_id")
    )
    if limit is not None and connection.features.supports_slicing_ordering_in_compound:
        by_prompt = by_prompt.order_by("id")[:limit]
        by_responses = by_responses.order_by("id")[:limit]
        by_annotation = by_annotation.order_by("item_id")[:limit]
    return by_prompt.union(by_responses, by_annotation)


def _ordering(sort: str) -> list[str]:
    descending = sort.startswith("-")
    column = SORTS[sort.lstrip("-")]
    if column == "id":
        return ["-id" if descending else "id"]
    return [f"-{column}" if descending else column, "-id" if descending else "id"]


def browse_page(membership: Membership, filters: dict, *, page: int, per_page: int) -> tuple[list[Item], int, bool]:
    """One page of the table (only the columns it shows) and how many items match: (rows, count, more), where the
    count is exact, or with a per-item filter at most COUNT_CAP and `more` says whether there are more.

    A search reads no more matches than the answer needs: in id order, the page's first rows are among the first
    rows of each source; the count needs COUNT_CAP + 1 of each at most."""
    start = (page - 1) * per_page
    limit = start + per_page if filters.get("sort", "id") == "id" else SEARCH_LIMIT
    rows = list(
        items_browse(membership, **filters, search_limit=limit)
        .only(*LIST_FIELDS)
        .prefetch_related(TAGS_BY_NAME)[start : start + per_page]
    )
    counted = items_browse(membership, **filters, search_limit=COUNT_CAP + 1).order_by()
    if not any(filters.get(name) for name in PER_ITEM_FILTERS) and filters.get("status") != "in_progress":
        return rows, counted.count(), False
    count = counted[: COUNT_CAP + 1].count()
    return rows, min(count, COUNT_CAP), count > COUNT_CAP
