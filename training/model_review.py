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
from annotation.taxonomy import TIE, Kind
from annotation.text import replace_refused
from training.comparison import WinRate, win_rate, win_rate_by_group
from training.models import ModelVersion

_SIDES = "meta__model_review__sides"
NO_ANSWER = "(no answer)"  # what annotators see where a model answered nothing: an answer too, and usually the loser


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
        "responses": [{"text": replace_refused(answers[side]["response"]).strip() or NO_ANSWER} for side in sides],
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
    answered alike (a tie by construction), or whose two answers an earlier comparison item already holds, is
    not sent to annotators. All or nothing: InvalidInput lists every prompt that fails the item import's
    validation."""
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
    hashes = [content_hash(row["kind"], "", row["messages"], row["responses"]) for row in rows]
    compared = set(Item.objects.filter(project=project, content_hash__in=hashes).values_list("content_hash", flat=True))
    rows, prompt_ids, hashes = (
        [value for value, digest in zip(values, hashes, strict=True) if digest not in compared]
        for values in (rows, kept, hashes)
    )
    if not rows:
        return []
    with transaction.atomic():
        try:
            item_import(project=project, lines=[json.dumps(row) for row in rows])
        except InvalidInput as exc:
            errors = [
                {"prompt_id": prompt_ids[e["line"] - 1], "field": e["field"], "message": e["message"]}
                for e in exc.errors
            ]
            raise InvalidInput(
                f"{len({e['prompt_id'] for e in errors})} prompt(s) cannot become model_review items; "
                "nothing was created.",
                errors=errors,
            ) from exc
        items = Item.objects.filter(project=project, content_hash__in=hashes)
        if overlap is not None:
            items.update(open_slots=overlap)
        by_hash = {item.content_hash: item for item in items}
    return [by_hash[digest] for digest in hashes]


def _pair_items(project: Project, candidate: ModelVersion, champion: ModelVersion) -> QuerySet[Item]:
    either_order = Q(**{f"{_SIDES}__0": candidate.id, f"{_SIDES}__1": champion.id}) | Q(
        **{f"{_SIDES}__0": champion.id, f"{_SIDES}__1": candidate.id}
    )
    return Item.objects.filter(either_order, project=project, kind=Kind.MODEL_REVIEW)


def _outcome(choice, sides: list[int], candidate_id: int) -> str:
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
        .values_list("item_id", "item__task_type", f"item__{_SIDES}", "payload__choice")
    )
    judgments = [
        (task_type, item_id, _outcome(choice, sides, candidate.id)) for item_id, task_type, sides, choice in rows
    ]
    options = {"resamples": resamples, "seed": seed}
    return ModelReviewResults(
        overall=win_rate([(item_id, outcome) for _, item_id, outcome in judgments], **options),
        by_task_type=win_rate_by_group(judgments, **options),
        items=items.count(),
    )
