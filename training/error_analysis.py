"""Error analysis of a cycle's candidate: its failures on the snapshot's eval split, one row each (a wrong label, a
low reference score, a refusal where an answer was due and the reverse, paraphrases answered differently, a
comparison annotators gave to the champion), grouped by task type, harm category, domain and tag against how many
training rows of each kind the snapshot held. A group that fails often with few training rows of its kind is a
coverage gap (collect this); one that fails often with many is a quality or volume question (review them). This is
the one place that rule lives: "what to collect next" (training.collect_next) is built from these groups."""

import functools
import json
from collections import defaultdict

from django.core.files.storage import default_storage

from annotation.models import Annotation, Item
from annotation.neardup import prompt_text, signature
from annotation.refusals import is_refusal
from training.checks import answers_agree, group_names
from training.cycles import cycle_answers
from training.model_review import SIDES, outcome
from training.models import Cycle, Snapshot
from training.reference_metrics import LABELS, LOW_SCORE, METRICS, SCALE, item_score

FAILURES = {
    "wrong_label": "wrong answer",
    "low_score": "low reference score",
    "over_refusal": "refused an answerable prompt",
    "missed_refusal": "answered a prompt to refuse",
    "inconsistent": "paraphrases disagree",
    "human_loss": "lost with annotators",
}
DIMENSIONS = {"task_type": "task type", "harm_category": "harm category", "domain": "domain", "tag": "tag"}
ROW_KEYS = {"task_type": "task_type", "harm_category": "harm_category", "domain": "domain", "tag": "tags"}
EXACT_TYPES = {"classification", "closed_qa"}  # a score of 0 there is a wrong answer, not a weak one

HIGH_FAILURE = 0.5  # at least half the group's eval rows fail
MIN_EVIDENCE = 5  # fewer eval rows than this say nothing either way
SCARCE = 0.5  # a share below half the dimension's average share is scarce
ORDER = {"coverage": 0, "quality": 1, "fine": 2}

NEIGHBOURS = 3
MIN_SIMILARITY = 0.1  # estimated Jaccard of prompt shingles; below it an item is not near in any useful sense


def _prompt(row: dict) -> str:
    users = [m.get("content") or "" for m in row.get("messages") or [] if m.get("role") == "user"]
    return users[-1] if users else ""


def _score_words(metric: str, score: float) -> str:
    label = LABELS.get(metric, metric)
    if SCALE.get(metric, 1) == 100:
        return f"{label} {100 * score:.1f} (below {100 * LOW_SCORE[metric]:.1f})"
    return f"{label} {score:.0%} (below {LOW_SCORE[metric]:.0%})"


def _reference_failure(row: dict) -> tuple[str, float, str, str] | None:
    """(failure, score, metric, detail) when the row's primary reference metric is under its LOW_SCORE."""
    task_type = row.get("task_type") or ""
    if task_type not in METRICS:
        return None
    metric = METRICS[task_type][0]
    score = item_score(task_type, row.get("response") or "", row.get("references") or [])
    if score is None or score >= LOW_SCORE[metric]:
        return None
    if task_type in EXACT_TYPES:
        return "wrong_label", score, metric, f"{LABELS.get(metric, metric)}: does not match any reference"
    if metric == "code_syntax":
        return "low_score", score, metric, "no fenced code block, or the code does not parse"
    return "low_score", score, metric, _score_words(metric, score)


def _row_failures(row: dict) -> list[tuple[str, float | None, str, str]]:
    response = row.get("response") or ""
    if row.get("safety") == "should_refuse":
        return [] if is_refusal(response) else [("missed_refusal", None, "", "answered a prompt it should refuse")]
    if row.get("safety") == "should_comply" and is_refusal(response):
        return [("over_refusal", None, "", "refused a prompt it should answer")]
    found = _reference_failure(row)
    return [found] if found else []


def _human_losses(cycle: Cycle) -> dict:
    """{eval row id: (judgments for the champion, judgments)} for the cycle's comparison items that annotators
    gave to the champion more often than to the candidate (self-consistency repeats not counted)."""
    items = cycle.results.get("review_items") or []
    if not items or cycle.candidate_id is None:
        return {}
    prompt_of = dict(Item.objects.filter(id__in=items).values_list("id", "meta__model_review__prompt_id"))
    judgments = Annotation.objects.filter(item_id__in=items, is_repeat=False).values_list(
        "item_id", f"item__{SIDES}", "payload__choice"
    )
    tally = defaultdict(lambda: {"win": 0, "tie": 0, "loss": 0})
    for item_id, sides, choice in judgments:
        tally[item_id][outcome(choice, sides, cycle.candidate_id)] += 1
    return {
        prompt_of[item_id]: (counts["loss"], sum(counts.values()))
        for item_id, counts in tally.items()
        if counts["loss"] > counts["win"]
    }


def _failure(row: dict, kind: str, champion: dict, *, score=None, metric="", detail="", **extra) -> dict:
    return {
        "row_id": row["id"],
        "item_id": row["id"],
        "failure": kind,
        "failure_label": FAILURES[kind],
        "task_type": row.get("task_type") or "",
        "harm_category": row.get("harm_category") or "",
        "domain": row.get("domain") or "",
        "tags": list(row.get("tags") or []),
        "prompt": _prompt(row),
        "candidate": row.get("response") or "",
        "champion": (champion.get(row["id"]) or {}).get("response"),
        "references": list(row.get("references") or []),
        "score": score,
        "metric": LABELS.get(metric, metric),
        "detail": detail,
        **extra,
    }


def eval_failures(cycle: Cycle) -> list[dict]:
    """The candidate's failures on the eval split, in eval order, each {"row_id", "item_id", "failure" (a key of
    FAILURES) and "failure_label", "task_type", "harm_category", "domain", "tags", "prompt", "candidate",
    "champion" (its answer to the same row, None if it gave none), "references", "score", "metric", "detail" (in
    words)}; an inconsistent paraphrase group is one failure on its original item, with the rewordings' prompts
    and answers under "paraphrases". Empty before the cycle's checks ran; OSError or ValueError if an answer file
    is unreadable."""
    if "checks" not in cycle.results:
        return []
    rows = cycle_answers(cycle, "candidate")
    champion = {row["id"]: row for row in cycle_answers(cycle, "champion")}
    originals = [row for row in rows if "paraphrase_of" not in row]
    groups = defaultdict(list)
    for row in rows:
        if row.get("paraphrase_group") is not None:
            groups[row["paraphrase_group"]].append(row)
    losses = _human_losses(cycle)
    found = []
    for row in originals:
        for kind, score, metric, detail in _row_failures(row):
            found.append(_failure(row, kind, champion, score=score, metric=metric, detail=detail))
        group = groups.get(row["id"]) or []
        if len(group) > 1 and not answers_agree(group):
            paraphrases = [{"prompt": _prompt(p), "response": p.get("response") or ""} for p in group if p is not row]
            detail = f"answered {len(paraphrases)} rewording(s) of this prompt differently"
            found.append(_failure(row, "inconsistent", champion, detail=detail, paraphrases=paraphrases))
        if row["id"] in losses:
            lost, judged = losses[row["id"]]
            detail = f"{lost} of {judged} judgments preferred the champion"
            found.append(_failure(row, "human_loss", champion, detail=detail))
    return found


def _train_rows(counts: dict) -> dict[str, dict[str, int] | None]:
    """Training rows per group of each dimension: the snapshot's train_groups, or for a snapshot built before it
    counted them, every row per task type and harm category and nothing known of domains and tags."""
    if "train_groups" in counts:
        return {dimension: dict(counts["train_groups"].get(dimension) or {}) for dimension in DIMENSIONS}
    rows = {"task_type": defaultdict(int), "harm_category": defaultdict(int)}
    for per_type in (counts.get("task_types") or {}).values():
        for name, n in per_type.items():
            rows["task_type"][name] += n
    for key, n in (counts.get("harm_categories") or {}).items():
        rows["harm_category"][key.split(":", 1)[-1]] += n
    return {
        "task_type": dict(rows["task_type"]),
        "harm_category": dict(rows["harm_category"]),
        "domain": None,
        "tag": None,
    }


def recommend(rate: float | None, evidence: int, share: float | None, average: float, target: float | None) -> tuple:
    """("coverage" | "quality" | "fine", the reason in words) for a group that failed `rate` of `evidence` eval
    rows, with `share` of its dimension's training rows (None: not counted), against the dimension's `average`
    share and the group's `target` share (task types with a target in the project's mix)."""
    if rate is None or evidence < MIN_EVIDENCE:
        return "fine", f"too little evidence ({evidence} eval item{'' if evidence == 1 else 's'})"
    if rate < HIGH_FAILURE:
        return "fine", f"fails {rate:.0%}"
    if share is None:
        return "quality", f"fails {rate:.0%}; this snapshot did not count its training rows of this kind: review them"
    if target is not None and share < target:
        return "coverage", f"fails {rate:.0%}; {share:.0%} of the training data, under its {target:.0%} target"
    if share < SCARCE * average:
        return "coverage", f"fails {rate:.0%}; {share:.0%} of the training data, under half the average {average:.0%}"
    return "quality", f"fails {rate:.0%} with {share:.0%} of the training data: review these items"


def failure_groups(cycle: Cycle, failures: list[dict]) -> list[dict]:
    """One row per group of each dimension (task type, harm category, domain, tag: a row counts in each of its
    tags) that has eval rows: "evaluated" rows, "failed" rows (one or more failures), "failures" per kind and the
    "failure_counts" ((label, n) of those that occurred), "failure_rate", the snapshot's training "rows" of that
    kind and their "share" of the dimension (None when the snapshot did not count them), "average_share", the
    "target" share (task types), and a "recommendation" ("coverage", "quality" or "fine") with its "reason";
    coverage first, then quality, worst first. Empty before the cycle's checks ran."""
    if "checks" not in cycle.results:
        return []
    evaluated = [row for row in cycle_answers(cycle, "candidate") if "paraphrase_of" not in row]
    trained = _train_rows(cycle.snapshot.counts if cycle.snapshot else {})
    mix = cycle.project.task_type_mix or {}
    found = []
    for dimension, key in ROW_KEYS.items():
        members, failed, kinds = defaultdict(set), defaultdict(set), defaultdict(lambda: dict.fromkeys(FAILURES, 0))
        for row in evaluated:
            for group in group_names(row, key):
                members[group].add(row["id"])
        for failure in failures:
            for group in group_names(failure, key):
                failed[group].add(failure["row_id"])
                kinds[group][failure["failure"]] += 1
        rows = trained[dimension]
        counted = {name: n for name, n in (rows or {}).items() if name != "(none)" and n}
        total = sum((rows or {}).values())
        average = 1 / len(counted) if counted else 0.0
        for group, ids in members.items():
            rate = len(failed[group]) / len(ids)
            share = None if rows is None else (rows.get(group, 0) / total if total else 0.0)
            target = float(mix[group]) if dimension == "task_type" and group in mix else None
            recommendation, reason = recommend(rate, len(ids), share, average, target)
            found.append(
                {
                    "dimension": dimension,
                    "group": group,
                    "evaluated": len(ids),
                    "failed": len(failed[group]),
                    "failures": kinds[group],
                    "failure_counts": [(FAILURES[kind], n) for kind, n in kinds[group].items() if n],
                    "failure_rate": rate,
                    "rows": None if rows is None else rows.get(group, 0),
                    "share": share,
                    "average_share": average,
                    "target": target,
                    "recommendation": recommendation,
                    "reason": reason,
                }
            )
    order = list(DIMENSIONS)
    return sorted(
        found,
        key=lambda g: (ORDER[g["recommendation"]], -g["failure_rate"], order.index(g["dimension"]), g["group"]),
    )


@functools.lru_cache(maxsize=8)
def _train_item_ids(snapshot_id: int, folder: str, files: tuple[str, ...]) -> frozenset[int]:
    """The items behind the snapshot's train rows (SFT and DPO); a ready snapshot's files never change."""
    ids = set()
    for name in ("sft.train.jsonl", "dpo.train.jsonl"):
        if name in files:
            with default_storage.open(f"{folder}/{name}") as source:
                for line in source.read().decode("utf-8").splitlines():
                    if line.strip():
                        ids.add(json.loads(line)["item_id"])
    return frozenset(ids)


def nearest_training_items(snapshot: Snapshot | None, failures: list[dict], *, limit: int = NEIGHBOURS) -> None:
    """Put under each failure's "neighbours" up to `limit` of the snapshot's training items whose prompts are
    nearest to its prompt ({"id", "prompt", "similarity"}, most similar first), by the near-duplicate index's
    MinHash signatures: the estimated Jaccard similarity of their word shingles, at least MIN_SIMILARITY. Ranked
    rather than thresholded, because the split keeps near-duplicates of an eval item out of train by design; the
    eval item itself is never its own neighbour. Meant for one page of failures: it reads every training item's
    signature once."""
    import numpy as np

    for failure in failures:
        failure["neighbours"] = []
    if snapshot is None or snapshot.status != Snapshot.Status.READY or not failures:
        return
    train_ids = sorted(_train_item_ids(snapshot.id, snapshot.folder, tuple(snapshot.files)))
    ids, signatures = [], []
    for start in range(0, len(train_ids), 500):
        chunk = train_ids[start : start + 500]
        for item_id, raw in Item.objects.filter(id__in=chunk, minhash__isnull=False).values_list("id", "minhash"):
            ids.append(item_id)
            signatures.append(np.frombuffer(bytes(raw), dtype=np.uint32))
    if not ids:
        return
    matrix, ids = np.stack(signatures), np.array(ids)
    chosen = {}
    for failure in failures:
        wanted = signature(failure["prompt"]).hashvalues.astype(np.uint32)
        similarity = (matrix == wanted).mean(axis=1)
        similarity[ids == failure["item_id"]] = 0.0
        best = np.argsort(-similarity, kind="stable")[:limit]
        chosen[id(failure)] = [(int(ids[i]), float(similarity[i])) for i in best if similarity[i] >= MIN_SIMILARITY]
    prompts = {
        item_id: prompt_text(prompt, messages)
        for item_id, prompt, messages in Item.objects.filter(
            id__in={item_id for found in chosen.values() for item_id, _ in found}
        ).values_list("id", "prompt", "messages")
    }
    for failure in failures:
        failure["neighbours"] = [
            {"id": item_id, "prompt": prompts.get(item_id, ""), "similarity": similarity}
            for item_id, similarity in chosen[id(failure)]
        ]
