"""Live guidance shown while an annotator writes, before they submit."""

from dataclasses import dataclass

from annotation.item_validation import content_hash
from annotation.models import Item, Project
from annotation.neardup import near_duplicates_of
from annotation.refusals import is_refusal
from annotation.taxonomy import Kind, Safety

SHORT_CHARS = 20


@dataclass(frozen=True)
class Hint:
    level: str  # "info" or "warn"
    message: str


def guidance(
    *,
    project: Project,
    item: Item | None,
    response: str,
    new_prompt: str = "",
    new_kind: str = Kind.DEMONSTRATION,
    task_type: str | None = None,
) -> list[Hint]:
    """Hints for a response to `item`, or, when `item` is None, for a new `new_kind` item being authored."""
    hints = []
    if response.strip():
        hints.append(Hint("info", f"{len(response.split())} words, {len(response)} characters"))
        if len(response.strip()) < SHORT_CHARS:
            hints.append(Hint("warn", "The response is very short; is it complete?"))
    expects_refusal = item.safety == Safety.SHOULD_REFUSE if item is not None else new_kind == Kind.REFUSAL
    if response.strip() and not expects_refusal and is_refusal(response):
        hints.append(Hint("warn", "This reads as a refusal, but the prompt should be answered helpfully."))
    if expects_refusal and response.strip() and not is_refusal(response):
        hints.append(Hint("info", "This does not read as a refusal. If you think the prompt is fine, say so."))
    if item is None and task_type is not None and not task_type:
        hints.append(Hint("warn", "Pick the task type this instruction belongs to."))
    if item is None and new_prompt.strip():
        digest = content_hash(new_kind, new_prompt, None, [])
        twin = Item.objects.filter(project=project, content_hash=digest).values_list("id", flat=True).first()
        if twin:
            hints.append(Hint("warn", f"This prompt already exists as item {twin}; write a different one."))
        elif similar := near_duplicates_of(project, new_prompt):
            ids = ", ".join(map(str, similar))
            hints.append(Hint("warn", f"Very close to existing item(s) {ids}; vary the wording or the task."))
    return hints
