"""Building a snapshot's files from accepted annotations, streaming in item order.

Everything here is a function of the inputs (the annotation data and the config): the same inputs give
byte-identical files and the same content hash. Rows are streamed; only the split holds every prompt's shingles
at once (the exact near-duplicate join).
"""

import json
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from annotation.neardup import index_project
from annotation.payloads import RANKED_FROM
from annotation.taxonomy import PAIRWISE_KINDS
from training import selectors
from training.pipeline.hashing import content_hash
from training.snapshots.aggregate import pair_labels
from training.snapshots.card import write_card
from training.snapshots.config import SnapshotConfig, tokenizer_source
from training.snapshots.files import SplitWriter
from training.snapshots.mix import chosen_rows
from training.snapshots.split import eval_items

SPLITS = ("train", "eval")
GROUP_DIMENSIONS = ("task_type", "harm_category", "domain", "tag")


@dataclass
class Stats:
    rows: Counter = field(default_factory=Counter)  # (kind, split)
    task_types: Counter = field(default_factory=Counter)  # (kind, task type)
    harm_categories: Counter = field(default_factory=Counter)
    sources: Counter = field(default_factory=Counter)  # (kind, source)
    mix_groups: Counter = field(default_factory=Counter)  # SFT train rows per mix group
    train_groups: Counter = field(default_factory=Counter)  # (dimension, value): SFT and DPO train rows
    dropped: Counter = field(default_factory=Counter)
    sft_lengths: list[int] = field(default_factory=list)
    chosen_lengths: list[int] = field(default_factory=list)
    rejected_lengths: list[int] = field(default_factory=list)
    agreement: list[float] = field(default_factory=list)
    adjudicated: int = 0


@dataclass
class BuildResult:
    counts: dict
    content_hash: str
    files: list[str]


class _Rows:
    """A stream of (…, item id, …) rows in item order, consumed one item at a time. Close it inside the reading
    transaction: on PostgreSQL an unfinished stream is a server-side cursor, and one closed later (when it is
    garbage-collected) breaks whatever transaction the connection is in by then."""

    def __init__(self, rows: Iterator, item_position: int = 1):
        self.rows, self.at, self.pending = rows, item_position, next(rows, None)

    def close(self) -> None:
        self.rows.close()

    def for_item(self, item_id: int) -> list:
        found = []
        while self.pending is not None and self.pending[self.at] <= item_id:
            if self.pending[self.at] == item_id:
                found.append(self.pending)
            self.pending = next(self.rows, None)
        return found


def _turns(prompt: str, messages, system_prompt: str) -> list[dict]:
    turns = messages or [{"role": "user", "content": prompt}]
    return ([{"role": "system", "content": system_prompt}] if system_prompt else []) + list(turns)


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


class _Builder:
    def __init__(self, project, config: SnapshotConfig, folder: Path, pinned_eval: set[int] | None, progress):
        self.project, self.config, self.folder, self.progress = project, config, folder, progress
        self.stats = Stats()
        progress("splitting", 0.0)
        strata = selectors.item_strata(project, exclude_gold=config.exclude_gold).iterator(chunk_size=selectors.CHUNK)
        split = eval_items(strata, fraction=config.eval_fraction, seed=config.seed, pinned=pinned_eval)
        self.eval, self.train_only = split.eval, split.train_only
        progress("mixing", 0.05)
        self.kept = self._mix()
        self.tags = selectors.export_tags(project)
        kinds = [kind for kind, wanted in (("sft", config.include_sft), ("dpo", config.include_dpo)) if wanted]
        self.writers = {(kind, split): SplitWriter(folder, kind, split) for kind in kinds for split in SPLITS}

    def _mix(self) -> set[int] | None:
        config = self.config
        if not config.include_sft or not (config.mix_weights or config.mix_caps):
            return None
        group = f"item__{config.mix_by}"
        gold = {"item__is_gold": False} if config.exclude_gold else {}
        rows = list(selectors.accepted_writing(self.project).filter(**gold).values_list("id", "item_id", group))
        better = selectors.better_responses(self.project, include_model_review=config.include_model_review)
        rows += list(better.filter(**gold).values_list("id", "item_id", group))
        train = ((row_id, value or "(none)") for row_id, item_id, value in rows if item_id not in self.eval)
        return chosen_rows(train, weights=config.mix_weights, caps=config.mix_caps, seed=config.seed)

    def _sft(self, split: str, item: tuple, prompt: list[dict], completion: list[dict], source: str, source_id: int):
        """A row in TRL's conversational prompt–completion form: `completion` is only what the annotator wrote, so
        imported turns (assistant ones included) are context and never a training target."""
        if ("sft", split) not in self.writers:
            return
        if split == "train" and self.kept is not None and source_id not in self.kept:
            self.stats.dropped["mixed_out"] += 1
            return
        item_id, kind, _, _, task_type, domain, safety, harm_category = item[:8]
        self.writers["sft", split].write(
            {
                "prompt": prompt,
                "completion": completion,
                "task_type": task_type,
                "source": source,
                "source_ids": [source_id],
                "item_id": item_id,
                "domain": domain,
                "tags": self.tags.get(item_id, []),
                "safety": safety,
                "harm_category": harm_category,
            }
        )
        stats = self.stats
        stats.rows["sft", split] += 1
        stats.task_types["sft", task_type or "(none)"] += 1
        stats.sources["sft", source] += 1
        if harm_category:
            stats.harm_categories[f"{safety}:{harm_category}"] += 1
        if split == "train":
            stats.mix_groups[(domain if self.config.mix_by == "domain" else task_type) or "(none)"] += 1
            self._count_train_row(item)
        stats.sft_lengths.append(sum(len(turn["content"]) for turn in completion))

    def _dpo(self, split: str, item: tuple, prompt: list[dict], chosen: str, rejected: str, source: str, ids, label):
        if ("dpo", split) not in self.writers:
            return
        item_id, _, _, _, task_type, domain, *_, origin = item
        if split == "train":
            self._count_train_row(item)
        self.writers["dpo", split].write(
            {
                "prompt": prompt,
                "chosen": _assistant(chosen),
                "rejected": _assistant(rejected),
                "task_type": task_type,
                "source": source,
                "source_ids": ids,
                "item_id": item_id,
                "domain": domain,
                "tags": self.tags.get(item_id, []),
                "agreement": label.agreement if label else None,
                "votes": label.votes if label else 0,
                "backing": label.backing if label else 0,
                "adjudicated": bool(label and label.adjudicated),
                "origin": origin,
            }
        )
        stats = self.stats
        stats.rows["dpo", split] += 1
        stats.task_types["dpo", task_type or "(none)"] += 1
        stats.sources["dpo", source] += 1
        stats.chosen_lengths.append(len(chosen))
        stats.rejected_lengths.append(len(rejected))
        if label:
            stats.agreement.append(label.agreement)
            stats.adjudicated += label.adjudicated

    def _count_train_row(self, item: tuple) -> None:
        """One training row in each group of each dimension its item has a value in (a row counts in every tag)."""
        item_id, _, _, _, task_type, domain, _, harm_category = item[:8]
        values = [("task_type", task_type), ("harm_category", harm_category), ("domain", domain)]
        values += [("tag", tag) for tag in self.tags.get(item_id, [])]
        self.stats.train_groups.update((dimension, value) for dimension, value in values if value)

    def _labels(self, item_id: int, count: int, votes: list, adjudications: dict) -> list:
        """The item's settled (chosen, rejected, label) pairs; counts what the aggregation policy left out."""
        config = self.config
        judgments = [
            (score, {"choice": choice} if ranking is None else {"ranking": ranking})
            for _, _, score, _, ranking, choice in votes
        ]
        labels = pair_labels(
            count,
            judgments,
            ties=config.ties,
            min_agreement=config.min_agreement,
            min_strength=config.min_strength,
            adjudication=adjudications.get(item_id),
        )
        if not labels:
            self.stats.dropped["not_agreed"] += 1
        elif count >= RANKED_FROM and (unsettled := count * (count - 1) // 2 - len(labels)):
            self.stats.dropped["ranked_pairs_not_agreed"] += unsettled
        return labels

    def run(self) -> list[Path]:
        config, project = self.config, self.project
        adjudications = selectors.adjudicated(project)
        writing = _Rows(selectors.export_writing(project))
        judgments = _Rows(selectors.export_judgments(project, include_model_review=config.include_model_review))
        better_rows = _Rows(
            selectors.export_better_responses(project, include_model_review=config.include_model_review)
        )
        try:
            self._write(writing, judgments, better_rows, adjudications)
        finally:
            for rows in (writing, judgments, better_rows):
                rows.close()
        self.progress("writing parquet", 0.9)
        return [path for writer in self.writers.values() for path in writer.close()]

    def _write(self, writing: _Rows, judgments: _Rows, better_rows: _Rows, adjudications: dict) -> None:
        config, project = self.config, self.project
        total = max(1, project.items.count())
        for position, item in enumerate(selectors.export_items(project), start=1):
            if position % 5000 == 0:
                self.progress("writing rows", 0.1 + 0.8 * position / total)
            item_id, kind, prompt, messages, _, _, _, _, responses, is_gold, _, _ = item
            if config.exclude_gold and is_gold:
                self.stats.dropped["gold"] += 1
                continue
            split = "eval" if item_id in self.eval else "train"
            prompt_turns = _turns(prompt, messages, config.system_prompt)
            for annotation_id, _, payload in writing.for_item(item_id):
                written = _assistant(payload["response"]) + payload.get("continuation", [])
                self._sft(split, item, prompt_turns, written, kind, annotation_id)
            votes = judgments.for_item(item_id)
            if kind not in PAIRWISE_KINDS or not votes:
                continue
            ids = [vote[0] for vote in votes]
            labels = self._labels(item_id, len(responses), votes, adjudications)
            for chosen, rejected, label in labels:
                self._dpo(
                    split, item, prompt_turns, responses[chosen]["text"], responses[rejected]["text"], kind, ids, label
                )
            for annotation_id, _, better, accepted in better_rows.for_item(item_id):
                self._sft(split, item, prompt_turns, _assistant(better), "better_response", annotation_id)
                if not labels and not accepted:
                    self.stats.dropped["better_response_pairs_unreviewed"] += 1
                    continue
                for original in responses:
                    self._dpo(
                        split,
                        item,
                        prompt_turns,
                        better,
                        original["text"],
                        "better_response",
                        [annotation_id],
                        None,
                    )


def build_snapshot(
    project,
    config: SnapshotConfig,
    folder: Path,
    *,
    pinned_eval: set[int] | None = None,
    code_version: str = "",
    progress: Callable[[str, float], None] = lambda stage, fraction: None,
) -> BuildResult:
    """Write the snapshot's files into `folder` and return their counts and content hash.

    Every item is indexed for near-duplicates first; then all the build's rows are read in one consistent
    transaction, so the split, the votes and the reviews it sees are those of one moment.
    """
    folder.mkdir(parents=True, exist_ok=True)
    progress("indexing near-duplicates", 0.0)
    index_project(project)
    with selectors.consistent_reads():
        builder = _Builder(project, config, folder, pinned_eval, progress)
        data_files = builder.run()
    digest = content_hash(data_files)
    counts = summary(builder.stats, config)
    counts["eval_none_of"] = builder.train_only
    if config.template_tokenizer:
        progress("checking the chat template", 0.92)
        counts["template_check"] = template_check(folder, config)
    eval_path = folder / "eval_items.json"
    eval_path.write_text(_json_list(sorted(builder.eval)), encoding="utf-8")
    progress("writing the card", 0.95)
    card_files = write_card(
        folder, project=project, config=config, counts=counts, digest=digest, code_version=code_version
    )
    files = sorted(path.name for path in [*data_files, eval_path, *card_files])
    return BuildResult(counts=counts, content_hash=digest, files=files)


def template_check(folder: Path, config: SnapshotConfig) -> dict:
    """Render every row with the tokenizer's chat template, in a separate process (it imports transformers)."""
    found = subprocess.run(
        [
            sys.executable,
            "-m",
            "training.pipeline.template_check",
            str(folder),
            "--tokenizer",
            tokenizer_source(config.template_tokenizer),
            "--max-length",
            str(config.template_max_length),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    if found.returncode != 0:
        raise RuntimeError(f"The chat-template check failed: {found.stderr.strip().splitlines()[-1:]}")
    return json.loads(found.stdout)


def _json_list(values: list[int]) -> str:
    return "[" + ",".join(map(str, values)) + "]\n"


def _length_stats(lengths: list[int]) -> dict:
    if not lengths:
        return {}
    ordered = sorted(lengths)
    return {
        "mean": round(statistics.fmean(ordered), 1),
        "median": ordered[(len(ordered) - 1) // 2],
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
    }


def summary(stats: Stats, config: SnapshotConfig) -> dict:
    """Counts and statistics for the card, in a fixed key order."""
    mix_total = sum(stats.mix_groups.values())
    return {
        "rows": {f"{kind}.{split}": stats.rows[kind, split] for kind in ("sft", "dpo") for split in SPLITS},
        "task_types": {
            kind: {t: n for (k, t), n in sorted(stats.task_types.items()) if k == kind} for kind in ("sft", "dpo")
        },
        "harm_categories": dict(sorted(stats.harm_categories.items())),
        "sources": {
            kind: {s: n for (k, s), n in sorted(stats.sources.items()) if k == kind} for kind in ("sft", "dpo")
        },
        "mix": {
            "by": config.mix_by,
            "target": dict(sorted(config.mix_weights.items())),
            "caps": dict(sorted(config.mix_caps.items())),
            "realised": {g: round(n / mix_total, 4) for g, n in sorted(stats.mix_groups.items())} if mix_total else {},
            "train_rows": dict(sorted(stats.mix_groups.items())),
        },
        "train_groups": {
            dimension: {value: n for (d, value), n in sorted(stats.train_groups.items()) if d == dimension}
            for dimension in GROUP_DIMENSIONS
        },
        "dropped": dict(sorted(stats.dropped.items())),
        "agreement": {
            "mean": round(statistics.fmean(stats.agreement), 4) if stats.agreement else None,
            "unanimous_share": round(sum(a == 1 for a in stats.agreement) / len(stats.agreement), 4)
            if stats.agreement
            else None,
            "adjudicated": stats.adjudicated,
        },
        "lengths": {
            "sft_response": _length_stats(stats.sft_lengths),
            "dpo_chosen": _length_stats(stats.chosen_lengths),
            "dpo_rejected": _length_stats(stats.rejected_lengths),
        },
    }
