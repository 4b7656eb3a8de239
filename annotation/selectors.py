"""Reads scoped to what the asking user may see. A non-member gets 404, never a hint."""

from typing import NoReturn

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from annotation.models import Annotation, Assignment, Item, Membership, Project
from annotation.queues import EVERYTHING, Queue
from annotation.rows import Columns, first, select
from annotation.taxonomy import Role

STAFF_ROLES = (Role.REVIEWER, Role.ADMIN)


def projects_for_user(user) -> QuerySet[Project]:
    """The user's projects, each once, with the user's `role` in it."""
    return Project.objects.filter(memberships__user=user).annotate(role=F("memberships__role")).order_by("name")


_MEMBERSHIP = (Columns(Membership, "m"), Columns(Project, "p"))


def membership_for(user, slug: str, *roles: str) -> Membership:
    """The user's membership in project `slug` (404 if none); 403 if `roles` are given and theirs is not one."""
    # Every request in a project asks: SQL, not an ORM query to build each time.
    found = first(
        f"SELECT {select(*_MEMBERSHIP)} FROM {Membership._meta.db_table} m"
        f" JOIN {Project._meta.db_table} p ON p.id = m.project_id WHERE m.user_id = %s AND p.slug = %s",
        [user.id, slug],
        *_MEMBERSHIP,
    )
    if found is None:
        raise Http404("No such project.")
    membership, membership.project = found
    if roles and membership.role not in roles:
        raise PermissionDenied(f"This needs the {' or '.join(roles)} role in {slug!r}.")
    membership.project.role = membership.role  # pages show role-dependent navigation
    return membership


def project_progress(membership: Membership) -> dict[str, int]:
    """How far the project is, and how much the member has done in it."""
    project = membership.project
    complete = Q(completed_count__gte=project.overlap)
    counts = project.items.aggregate(item_count=Count("id"), items_complete=Count("id", filter=complete))
    counts["my_annotations"] = Annotation.objects.filter(project=project, annotator=membership.user).count()
    return counts


def annotations_for(
    membership: Membership, *, kind=None, annotator=None, item=None, since=None, until=None
) -> QuerySet[Annotation]:
    """Reviewers and admins see every annotation in the project; annotators see their own."""
    annotations = Annotation.objects.filter(project=membership.project).select_related("annotator", "assignment")
    if membership.role not in STAFF_ROLES:
        annotations = annotations.filter(annotator=membership.user)
    if kind:
        annotations = annotations.filter(kind=kind)
    if annotator:
        annotations = annotations.filter(annotator__username=annotator)
    if item:
        annotations = annotations.filter(item_id=item)
    if since:
        annotations = annotations.filter(created_at__gte=since)
    if until:
        annotations = annotations.filter(created_at__lt=until)
    return annotations.order_by("id")


NO_LONGER_MEMBER = (
    "You are no longer a member of this project, so this answer was not saved; your text stays on this page."
)


class NoLongerMember(PermissionDenied):
    """A removed member asks about their own assignment in the project they left: a 403 that says so."""

    def __init__(self):
        super().__init__(NO_LONGER_MEMBER)


def assignment_missing(assignment_id: int, user, **scope) -> NoReturn:
    """Why the user's assignment was not found: NoLongerMember when it is theirs in a project they left, else 404."""
    if Assignment.objects.filter(id=assignment_id, annotator=user, **scope).exists():
        raise NoLongerMember()
    raise Http404("No such assignment.")


def own_assignment(assignment_id: int, user) -> Assignment:
    """The user's own assignment in a project they still belong to; 404 for anyone else's, 403 once they left."""
    assignment = (
        Assignment.objects.select_related("project")
        .filter(id=assignment_id, annotator=user, project__memberships__user=user)
        .first()
    )
    if assignment is None:
        assignment_missing(assignment_id, user)
    return assignment


def my_progress(user) -> list[dict]:
    """Per project the user belongs to: what they did today and in total, and what is left for them."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    rows = []
    for project in projects_for_user(user):
        mine = Annotation.objects.filter(project=project, annotator=user)
        seen = Assignment.objects.filter(item=OuterRef("pk"), annotator=user)
        live = Assignment.objects.filter(project=project, annotator=user, status=Assignment.Status.ACTIVE).count()
        left = Item.objects.filter(project=project, in_pool=True).exclude(Exists(seen)).count() + live
        done = mine.aggregate(total=Count("id"), today=Count("id", filter=Q(created_at__gte=today)))
        rows.append({"project": project, "done_today": done["today"], "done_total": done["total"], "left": left})
    return rows


LEFT_FOR_ME_CAP = 1000  # "left for you" is counted up to here, then shown as "1000+"
PROGRESS_TTL = 60  # seconds the header's pool counts are kept in the shared cache


def _pool_counts(project: Project, user_id: int, queue: Queue) -> dict:
    """The two counts that walk the item pool, computed once a minute: items open project-wide, and items left for
    the user in `queue` (up to LEFT_FOR_ME_CAP + 1) with how many assignments the user had then."""
    keys = {"open": f"progress-open:{project.id}", "left": f"progress-left:{project.id}:{user_id}:{queue.value}"}
    cached = cache.get_many(keys.values())
    counts = {name: cached.get(key) for name, key in keys.items()}
    if None not in counts.values():
        return counts
    pool = Item.objects.filter(project=project, in_pool=True)
    mine = Assignment.objects.filter(project=project, annotator_id=user_id)
    # NOT IN (a hashed list of the user's items) rather than NOT EXISTS: without table statistics (just after an
    # import) PostgreSQL plans the anti-join as a nested loop over every assignment of the user, per item.
    unseen = pool.exclude(id__in=mine.values("item_id"))
    if queue.kind:
        unseen = unseen.filter(kind=queue.kind)
    if queue.task_type:
        unseen = unseen.filter(task_type=queue.task_type)
    missing = {}
    if counts["open"] is None:
        counts["open"] = missing[keys["open"]] = pool.count()
    if counts["left"] is None:
        taken = mine.count()
        counts["left"] = missing[keys["left"]] = (unseen.order_by()[: LEFT_FOR_ME_CAP + 1].count(), taken)
    cache.set_many(missing, PROGRESS_TTL)
    return counts


def workspace_progress(membership: Membership, queue: Queue = EVERYTHING) -> dict:
    """The annotate page's header: what I did today, what is left for me in `queue` (up to LEFT_FOR_ME_CAP), items
    open in the project, my annotations returned for rework, and my latest annotation (`latest`: its id and
    whether it awaits review). The pool counts are up to a minute old, except that every assignment I took since
    counts at once."""
    project, user_id = membership.project, membership.user_id
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    pending = Q(review_status=Annotation.ReviewStatus.PENDING)
    counts = Annotation.objects.filter(project=project, annotator_id=user_id).aggregate(
        done_today=Count("id", filter=Q(created_at__gte=today)),
        rework=Count("id", filter=Q(review_status=Annotation.ReviewStatus.REJECTED)),
        latest_id=Max("id"),
        latest_pending_id=Max("id", filter=pending),
    )
    pool = _pool_counts(project, user_id, queue)
    unseen, taken_then = pool["left"]
    taken_since = Assignment.objects.filter(project=project, annotator_id=user_id).count() - taken_then
    latest_id = counts.pop("latest_id")
    latest_pending = counts.pop("latest_pending_id") == latest_id
    return {
        **counts,
        "left_for_me": min(max(unseen - taken_since, 0), LEFT_FOR_ME_CAP),
        "left_for_me_capped": unseen > LEFT_FOR_ME_CAP,
        "open_items": pool["open"],
        "latest": {"id": latest_id, "pending": latest_pending} if latest_id else None,
    }
