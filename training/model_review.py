"""Blind human comparison of two model versions: model_review items built from their answers to the same prompts,
judged in the project's normal queue, and the candidate's win rate from those judgments.

Which side holds which model is kept only in `Item.meta["model_review"]["sides"]` (model version ids, left to
right in `responses`); responses carry no source, and annotators never see an item's meta."""

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, QuerySet

from annotation.errors import InvalidInput
from annotation.item_import import item_import
from annotation.item_validation import content_hash, normalise_text
from annotation.models import Annotation, Item, Project
from annotation.taxonomy import MAX_TEXT_CHARS, TIE, Kind
from annotation.text import replace_refused
from training.comparison import WinRate, win_rate, win_rate_by_group
from training.models import ModelVersion

SIDES = "meta__model_review__sides"  # the item lookup of the version ids, left to right
NO_ANSWER = "(no answer)"  # what annotators see where a model answered nothing: an answer too, and usually the loser
CUT = "…"


def shown_answer(text: str) -> str:
    """A model's answer as an item can hold it: characters the database refuses made U+FFFD, cut to the item
    text limit (marked with …), and NO_ANSWER for an empty one."""
    text = replace_refused(text).strip()
    if len(text) > MAX_TEXT_CHARS:
        text = text[: MAX_TEXT_CHARS - len(CUT)] + CUT
    return text or NO_ANSWER


def _pair_hashes(row: dict) -> tuple[str, str]:
    """The row's content hash in the order given and swapped: a pair is the same pair whichever side is first."""
    responses = row["responses"]
    return (
        content_hash(row["kind"], "", row["messages"], responses),
        content_hash(row["kind"], "", row["messages"], responses[::-1]),
    )


def pairs_import(project: Project, rows: list[dict], keys: list, *, key_field: str, what: str) -> list[Item]:
    """Import the pairwise rows (model answers) that no item of the project holds yet, in either order, all or
    nothing, through the item import's validation; return their items. InvalidInput names each failing row by its
    key under `key_field` ("3 prompt(s) cannot become model_review items")."""
    hashes = [_pair_hashes(row) for row in rows]
    existing = Item.objects.filter(project=project, content_hash__in=[digest for pair in hashes for digest in pair])
    taken = set(existing.values_list("content_hash", flat=True))
    fresh = []
    for row, key, (digest, swapped) in zip(rows, keys, hashes, strict=True):
        if digest not in taken and swapped not in taken:
            taken.add(digest)
            fresh.append((row, key, digest))
    if not fresh:
        return []
    with transaction.atomic():
        try:
            item_import(project=project, lines=[json.dumps(row) for row, _, _ in fresh])
        except InvalidInput as exc:
            errors = [
                {key_field: fresh[e["line"] - 1][1], "field": e["field"], "message": e["message"]} for e in exc.errors
            ]
            raise InvalidInput(
                f"{len({e[key_field] for e in errors})} {what} cannot become {rows[0]['kind']} items; "
                "nothing was created.",
                errors=errors,
            ) from exc
        digests = [digest for _, _, digest in fresh]
        by_hash = {item.content_hash: item for item in Item.objects.filter(project=project, content_hash__in=digests)}
    return [by_hash[digest] for digest in digests]


@dataclass(frozen=True)
class ModelReviewResults:
    """The candidate's outcomes against the champion, overall and per task type ("" for items without one);
    `items` counts the pair's model_review items, judged or not."""

    overall: WinRate
    by_task_type: dict[str, WinRate]
    items: int


def _check_pair(project: Project, candidate: ModelVersion, champion: ModelVersion) -> None:
    if candidate.project_id != project.id or champion.project_id != project.id:
        raise InvalidInput(f"Both model versions must belong to project {project.slug!r}.")
    if candidate.id == champion.id:
        raise InvalidInput("A model version cannot be compared with itself.")


def _by_id(answers: Iterable[dict], whose: str) -> dict:
    rows: dict = {}
    for row in answers:
        if row["id"] in rows:
            raise InvalidInput(f"The {whose} answers hold prompt {row['id']!r} twice; give one answer per prompt.")
        rows[row["id"]] = row
    return rows


def _item_row(prompt_id, answers: dict[int, dict], sides: list[int]) -> dict:
    first, second = answers.values()
    if first["messages"] != second["messages"]:
        raise InvalidInput(f"Prompt {prompt_id!r} has different messages in the two models' answers.")
    row = {
        "kind": Kind.MODEL_REVIEW,
        "messages": first["messages"],
        "responses": [{"text": shown_answer(answers[side]["response"])} for side in sides],
        "meta": {"model_review": {"sides": sides, "prompt_id": prompt_id}},
    }
    if first.get("task_type"):
        row["task_type"] = first["task_type"]
    return row


def model_review_items_create(
    *,
    project: Project,
    candidate: ModelVersion,
    champion: ModelVersion,
    candidate_answers: Iterable[dict],
    champion_answers: Iterable[dict],
    overlap: int | None = None,
    seed: int = 0,
) -> list[Item]:
    """One blind model_review item per prompt id both models answered (generate.py's answer rows), the two
    responses in a seeded random order, each open to `overlap` annotators (default: the project's). A prompt both
    answered alike (a tie by construction), or whose two answers an earlier comparison item already holds (in
    either order), is not sent to annotators. All or nothing: InvalidInput lists every prompt that fails the item
    import's validation."""
    _check_pair(project, candidate, champion)
    if overlap is not None and not 1 <= overlap <= 50:
        raise InvalidInput("overlap must be between 1 and 50.", field="overlap")
    candidate_rows = _by_id(candidate_answers, "candidate's")
    champion_rows = _by_id(champion_answers, "champion's")
    prompt_ids = [prompt_id for prompt_id in candidate_rows if prompt_id in champion_rows]
    if not prompt_ids:
        raise InvalidInput("The two models answered no prompt in common.")
    rng = random.Random(seed)
    rows, kept = [], []
    for prompt_id in prompt_ids:
        sides = [candidate.id, champion.id]
        rng.shuffle(sides)
        answers = {candidate.id: candidate_rows[prompt_id], champion.id: champion_rows[prompt_id]}
        row = _item_row(prompt_id, answers, sides)
        if normalise_text(row["responses"][0]["text"]) != normalise_text(row["responses"][1]["text"]):
            rows.append(row)
            kept.append(prompt_id)
    with transaction.atomic():
        items = pairs_import(project, rows, kept, key_field="prompt_id", what="prompt(s)")
        if overlap is not None:
            Item.objects.filter(id__in=[item.id for item in items]).update(open_slots=overlap)
            for item in items:
                item.open_slots = overlap
    return items


def _pair_items(project: Project, candidate: ModelVersion, champion: ModelVersion) -> QuerySet[Item]:
    either_order = Q(**{f"{SIDES}__0": candidate.id, f"{SIDES}__1": champion.id}) | Q(
        **{f"{SIDES}__0": champion.id, f"{SIDES}__1": candidate.id}
    )
    return Item.objects.filter(either_order, project=project, kind=Kind.MODEL_REVIEW)


def outcome(choice, sides: list[int], candidate_id: int) -> str:
    """A judgment's outcome for `candidate_id`: "win", "tie" or "loss"."""
    if choice == TIE:
        return "tie"
    return "win" if sides[choice] == candidate_id else "loss"


def model_review_results(
    *, project: Project, candidate: ModelVersion, champion: ModelVersion, resamples: int = 1000, seed: int = 0
) -> ModelReviewResults:
    """Win/tie/loss and win rate of the candidate over the champion from every judgment of their model_review
    items, with bootstrap intervals that resample items; self-consistency repeats are not counted (as in exports).
    Items nobody has judged yet count only in `items`."""
    _check_pair(project, candidate, champion)
    items = _pair_items(project, candidate, champion)
    rows = (
        Annotation.objects.filter(item__in=items, is_repeat=False)
        .order_by("id")
        .values_list("item_id", "item__task_type", f"item__{SIDES}", "payload__choice")
    )
    judgments = [
        (task_type, item_id, outcome(choice, sides, candidate.id)) for item_id, task_type, sides, choice in rows
    ]
    options = {"resamples": resamples, "seed": seed}
    return ModelReviewResults(
        overall=win_rate([(item_id, outcome) for _, item_id, outcome in judgments], **options),
        by_task_type=win_rate_by_group(judgments, **options),
        items=items.count(),
    )
