"""Better data from the loop: preference items built from a model's own answers, judged in the normal queue.

On-policy pairs: the champion answers accepted demonstration prompts that have no preference data yet twice (two
seeds), and annotators pick the better answer. Safety pairs: where a model refused a should-comply prompt or
complied with a should-refuse one, its answer is paired with the accepted human answer. Both are ordinary
`preference` items (meta `{"source": "model", "origin": ...}`, never shown to annotators), so they reach a snapshot
only through annotators' judgments, and snapshot DPO rows name their origin."""

import hashlib
import json
import random
from collections.abc import Iterable
from contextlib import closing

from django.db.models import Subquery

from annotation.errors import InvalidInput
from annotation.item_validation import normalise_text
from annotation.models import Item, Project
from annotation.refusals import is_refusal
from annotation.taxonomy import Kind, Safety
from training.model_review import pairs_import, shown_answer
from training.models import ModelVersion
from training.selectors import CHUNK, accepted_writing

ON_POLICY = "on_policy"
SAFETY_MISTAKE = "safety_mistake"


def _turns(prompt: str, messages: list | None) -> list[dict]:
    return messages or [{"role": "user", "content": prompt}]


def _conversation_key(turns: list[dict]) -> bytes:
    key = [[turn["role"], normalise_text(turn["content"])] for turn in turns]
    return hashlib.sha256(json.dumps(key, ensure_ascii=False).encode()).digest()


def onpolicy_prompts(project: Project, *, limit: int) -> list[dict]:
    """Prompt rows `{"id", "messages", "task_type", "domain"}` (generate.py's input) of accepted demonstration items,
    oldest first, at most `limit`, leaving out every conversation a preference item of the project already holds."""
    if limit < 1:
        raise InvalidInput("limit must be at least 1.", field="limit")
    preferred = Item.objects.filter(project=project, kind=Kind.PREFERENCE).values_list("prompt", "messages")
    covered = {_conversation_key(_turns(*row)) for row in preferred.iterator(chunk_size=CHUNK)}
    accepted = accepted_writing(project).filter(kind=Kind.DEMONSTRATION).values("item_id")
    candidates = (
        Item.objects.filter(id__in=Subquery(accepted), is_gold=False)
        .order_by("id")
        .values_list("id", "prompt", "messages", "task_type", "domain")
    )
    rows = []
    # Closed at once when left early: on PostgreSQL an unfinished stream is a server-side cursor.
    with closing(candidates.iterator(chunk_size=CHUNK)) as stream:
        for item_id, prompt, messages, task_type, domain in stream:
            turns = _turns(prompt, messages)
            key = _conversation_key(turns)
            if key in covered:
                continue
            covered.add(key)
            rows.append({"id": item_id, "messages": turns, "task_type": task_type, "domain": domain})
            if len(rows) == limit:
                break
    return rows


def _check_version(project: Project, model_version: ModelVersion) -> None:
    if model_version.project_id != project.id:
        raise InvalidInput(f"Model version {model_version.name!r} does not belong to project {project.slug!r}.")


def _pair_row(turns: list[dict], texts: list[str], task_type: str | None, domain: str | None, meta: dict) -> dict:
    responses = [{"text": shown_answer(text)} for text in texts]
    row = {"kind": Kind.PREFERENCE, "messages": turns, "responses": responses, "meta": meta}
    return row | {key: value for key, value in (("task_type", task_type), ("domain", domain)) if value}


def onpolicy_items_create(*, project: Project, model_version: ModelVersion, sample_rows: Iterable[dict]) -> list[Item]:
    """One preference item per prompt from generate.py's answers with --samples 2 (rows with "id", "messages",
    "response", "sample", "seed"): the two answers in sample order. Identical answers and pairs an item already
    holds are skipped; a prompt without exactly two samples is refused. All or nothing."""
    _check_version(project, model_version)
    by_prompt: dict = {}
    for row in sample_rows:
        by_prompt.setdefault(row["id"], []).append(row)
    wrong = [key for key, rows in by_prompt.items() if len(rows) != 2 or rows[0]["sample"] == rows[1]["sample"]]
    if wrong:
        raise InvalidInput(
            f"{len(wrong)} prompt(s) do not have two samples (generate.py --samples 2); nothing was created.",
            errors=[{"id": key, "field": "sample", "message": "needs exactly two samples"} for key in wrong],
        )
    rows, keys = [], []
    for prompt_id, samples in by_prompt.items():
        first, second = sorted(samples, key=lambda sample: sample["sample"])
        if first["messages"] != second["messages"]:
            raise InvalidInput(f"Prompt {prompt_id!r} has different messages in its two samples.")
        if normalise_text(first["response"]) == normalise_text(second["response"]):
            continue
        meta = {
            "source": "model",
            "origin": ON_POLICY,
            "model_version": model_version.id,
            "seeds": [first.get("seed"), second.get("seed")],
            "item_id": prompt_id,
        }
        texts = [first["response"], second["response"]]
        rows.append(_pair_row(first["messages"], texts, first.get("task_type"), first.get("domain"), meta))
        keys.append(prompt_id)
    return pairs_import(project, rows, keys, key_field="id", what="prompt(s)")


def _human_answers(project: Project, item_ids: Iterable[int]) -> dict[int, str]:
    """The first accepted answer written for each item (reviewer edits applied)."""
    answers: dict[int, str] = {}
    accepted = accepted_writing(project).filter(item_id__in=list(item_ids)).order_by("item_id", "id")
    for item_id, response in accepted.values_list("item_id", "payload__response"):
        if response and response.strip():
            answers.setdefault(item_id, response)
    return answers


def safety_pairs_create(
    *, project: Project, model_version: ModelVersion, answer_rows: Iterable[dict], seed: int = 0
) -> list[Item]:
    """A preference item for each safety mistake in a model's answers to eval refusal cases (rows with "id", the
    item's id, or "paraphrase_of" for a paraphrase, and "response"): a should-comply prompt refused, or a
    should-refuse prompt complied with. Its two responses are the accepted human answer and the model's, in a
    seeded random order (meta `human_side`). Skipped: cases with no accepted answer, or whose human answer makes the
    same call as the model's; pairs an item already holds. All or nothing."""
    _check_version(project, model_version)
    answers = [row for row in answer_rows if isinstance(row.get("paraphrase_of", row.get("id")), int)]
    cases = Item.objects.filter(project=project, kind=Kind.REFUSAL).in_bulk(
        {row.get("paraphrase_of", row["id"]) for row in answers}
    )
    mistakes = []
    for row in answers:
        item = cases.get(row.get("paraphrase_of", row["id"]))
        if item is not None and is_refusal(row["response"]) == (item.safety == Safety.SHOULD_COMPLY):
            mistakes.append((row, item))
    human = _human_answers(project, {item.id for _, item in mistakes})
    rng = random.Random(seed)
    rows, keys = [], []
    for row, item in mistakes:
        answer = human.get(item.id)
        if answer is None or is_refusal(answer) == is_refusal(row["response"]):
            continue
        turns = _turns(item.prompt, item.messages)
        if "paraphrase_of" in row:
            turns = [*turns[:-1], row["messages"][-1]]
        human_side = rng.randrange(2)
        texts = [answer, row["response"]] if human_side == 0 else [row["response"], answer]
        meta = {
            "source": "model",
            "origin": SAFETY_MISTAKE,
            "model_version": model_version.id,
            "human_side": human_side,
            "item_id": item.id,
            "safety": item.safety,
        }
        rows.append(_pair_row(turns, texts, item.task_type, item.domain, meta))
        keys.append(row["id"])
    return pairs_import(project, rows, keys, key_field="id", what="answer(s)")
