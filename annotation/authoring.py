"""Items that annotators write themselves: free-form and grounded demonstrations, refusal pairs, paraphrases."""

import hashlib
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.assignment import MAX_TIME_SPENT_MS
from annotation.errors import Conflict, InvalidInput
from annotation.item_import import index_later
from annotation.item_validation import LineErrors, normalise_text, validate_item
from annotation.models import Annotation, Assignment, Item, Paraphrase, Passage, Project
from annotation.payloads import validate_payload
from annotation.projects import ensure_writable
from annotation.taxonomy import MAX_TEXT_CHARS, Kind, Safety
from annotation.text import clean, clean_fields


@dataclass
class Authored:
    annotations: list[Annotation]
    created: bool


def _item_fields(project: Project, row: dict, prefix: str) -> dict:
    try:
        return validate_item(row, project)
    except LineErrors as exc:
        field, message = exc.errors[0]
        raise InvalidInput(f"{field} {message}", field=f"{prefix}{field}") from exc


def _create_with_annotation(*, project, user, fields, payload, client_id, time_spent_ms, passage=None) -> Annotation:
    if time_spent_ms is not None and not 0 <= time_spent_ms <= MAX_TIME_SPENT_MS:
        raise InvalidInput(f"time_spent_ms must be between 0 and {MAX_TIME_SPENT_MS}.", field="time_spent_ms")
    item = Item(project=project, authored_by=user, passage=passage, **fields)
    payload = validate_payload(item=item, project=project, payload=payload)
    item.completed_count, item.open_slots = 1, project.overlap - 1
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError as exc:
        twin = Item.objects.filter(project=project, content_hash=fields["content_hash"]).first()
        raise InvalidInput(f"This prompt already exists as item {twin.id if twin else '?'}.", field="prompt") from exc
    assignment = Assignment.objects.create(
        project=project, item=item, annotator=user, status=Assignment.Status.SUBMITTED, expires_at=timezone.now()
    )
    transaction.on_commit(lambda: index_later(project))
    return Annotation.objects.create(
        project=project,
        item=item,
        assignment=assignment,
        annotator=user,
        kind=item.kind,
        payload=payload,
        client_id=client_id,
        time_spent_ms=time_spent_ms,
        guideline_version=project.guidelines_version,
    )


def _earlier(client_id: uuid.UUID, user) -> list[Annotation] | None:
    first = Annotation.objects.filter(client_id=client_id).first()
    if first is None:
        return None
    if first.annotator_id != user.id:
        raise Conflict("This client_id was already used for another submission.", field="client_id")
    return [first, *Annotation.objects.filter(item__meta__twin_of=first.item_id, annotator=user)]


@transaction.atomic
def demonstration_author(
    *,
    project: Project,
    user,
    instruction: str,
    context: str = "",
    response: str,
    task_type: str,
    domain: str = "",
    passage: Passage | None = None,
    client_id: uuid.UUID,
    time_spent_ms: int | None = None,
) -> Authored:
    """Create an instruction the annotator wrote (optionally grounded in a passage) with their response."""
    ensure_writable(project)
    instruction, context, response, task_type, domain = clean_fields(
        instruction=instruction, context=context, response=response, task_type=task_type, domain=domain
    )
    if earlier := _earlier(client_id, user):
        return Authored(earlier, created=False)
    if not task_type:
        raise InvalidInput("Pick the task type of this instruction.", field="task_type")
    prompt = f"{instruction.strip()}\n\n{context.strip()}" if context.strip() else instruction
    row = {"kind": Kind.DEMONSTRATION, "prompt": prompt, "task_type": task_type, "domain": domain}
    if passage is not None:
        row["domain"] = passage.document.domain
        row["meta"] = {"passage": passage.id, "document": passage.document.title}
    fields = _item_fields(project, row, prefix="")
    payload = {"response": response, "instruction": instruction, "task_type": task_type}
    annotation = _create_with_annotation(
        project=project,
        user=user,
        fields=fields,
        payload=payload,
        client_id=client_id,
        time_spent_ms=time_spent_ms,
        passage=passage,
    )
    return Authored([annotation], created=True)


@transaction.atomic
def refusal_pair_author(
    *,
    project: Project,
    user,
    harmful_prompt: str,
    harm_category: str,
    refusal: str,
    refusal_style: str,
    twin_prompt: str = "",
    twin_answer: str = "",
    client_id: uuid.UUID,
    time_spent_ms: int | None = None,
) -> Authored:
    """Create a should-refuse prompt with its refusal and, ideally, its benign should-comply twin with its answer."""
    ensure_writable(project)
    harmful_prompt, harm_category, refusal, refusal_style, twin_prompt, twin_answer = clean_fields(
        harmful_prompt=harmful_prompt,
        harm_category=harm_category,
        refusal=refusal,
        refusal_style=refusal_style,
        twin_prompt=twin_prompt,
        twin_answer=twin_answer,
    )
    if earlier := _earlier(client_id, user):
        return Authored(earlier, created=False)
    if twin_prompt.strip() and not twin_answer.strip():
        raise InvalidInput("Write the helpful answer to the benign twin, or leave the twin empty.", field="twin_answer")
    harmful = {"kind": Kind.REFUSAL, "prompt": harmful_prompt, "safety": Safety.SHOULD_REFUSE}
    harmful["harm_category"] = harm_category
    fields = _item_fields(project, harmful, prefix="")
    refusal_payload = {"response": refusal, "refusal_style": refusal_style}
    first = _create_with_annotation(
        project=project,
        user=user,
        fields=fields,
        payload=refusal_payload,
        client_id=client_id,
        time_spent_ms=time_spent_ms,
    )
    annotations = [first]
    if twin_prompt.strip():
        twin = {"kind": Kind.REFUSAL, "prompt": twin_prompt, "safety": Safety.SHOULD_COMPLY}
        twin |= {"harm_category": harm_category, "meta": {"twin_of": first.item_id}}
        twin_fields = _item_fields(project, twin, prefix="twin_")
        annotations.append(
            _create_with_annotation(
                project=project,
                user=user,
                fields=twin_fields,
                payload={"response": twin_answer},
                client_id=uuid.uuid4(),
                time_spent_ms=None,
            )
        )
    return Authored(annotations, created=True)


def paraphrase_add(*, item: Item, user, text: str) -> Paraphrase:
    """Add another wording of the item's instruction to its paraphrase group."""
    ensure_writable(item.project)
    text = clean(text or "", "text").strip()
    if not text:
        raise InvalidInput("Write the paraphrase.", field="text")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(f"The paraphrase is over {MAX_TEXT_CHARS} characters.", field="text")
    normalised = normalise_text(text)
    if normalised == normalise_text(item.prompt):
        raise InvalidInput("A paraphrase needs different wording from the original.", field="text")
    digest = hashlib.sha256(normalised.casefold().encode()).hexdigest()
    try:
        with transaction.atomic():
            return Paraphrase.objects.create(item=item, text=text, text_hash=digest, author=user)
    except IntegrityError as exc:
        raise InvalidInput("This paraphrase is already in the group.", field="text") from exc
