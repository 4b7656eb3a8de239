"""Open slots from first principles, for when the overlap an item wants changes."""

from django.db import connection, transaction
from django.db.models import Count

from annotation.models import Assignment, Item, Project


def open_slots_recount(*, project: Project, item_ids: list[int] | None = None) -> int:
    """Set each non-gold item's open_slots to overlap + extra_overlap - completed - live leases (never below 0),
    for the whole project or just `item_ids`; return how many items changed.

    The items are locked first, in id order: a lease taken or given back meanwhile waits for this transaction, and
    the recount, a later statement, sees every lease committed before the locks were won.
    """
    items = Item.objects.filter(project=project, is_gold=False)
    if item_ids is not None:
        items = items.filter(id__in=item_ids)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            list(items.select_for_update().order_by("id").values_list("id", flat=True))
        leases = dict(
            Assignment.objects.filter(
                project=project, status=Assignment.Status.ACTIVE, repeat_of__isnull=True, item__in=items
            )
            .values("item_id")
            .annotate(n=Count("id"))
            .values_list("item_id", "n")
        )
        wanted = project.overlap
        changed = 0
        rows = items.values_list("id", "extra_overlap", "completed_count", "open_slots")
        updates: dict[int, list[int]] = {}
        for item_id, extra, completed, open_slots in rows.iterator(chunk_size=5000):
            slots = max(0, wanted + extra - completed - leases.get(item_id, 0))
            if slots != open_slots:
                updates.setdefault(slots, []).append(item_id)
        for slots, ids in updates.items():
            for start in range(0, len(ids), 5000):
                changed += Item.objects.filter(id__in=ids[start : start + 5000]).update(open_slots=slots)
    return changed
