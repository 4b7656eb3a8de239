"""The dataset card: what is in a snapshot, for people (card.md) and for programs (card.json)."""

import json
from pathlib import Path

from annotation.neardup import SHINGLE_WORDS, THRESHOLD
from training.snapshots.config import SnapshotConfig

FORMATS = {
    "sft": "conversational `prompt` / `completion` (SFTTrainer reads them as they are)",
    "dpo": "conversational `prompt` / `chosen` / `rejected` (DPOTrainer reads them as they are)",
}


def write_card(folder: Path, *, project, config: SnapshotConfig, counts: dict, digest: str, code_version: str):
    card = {
        "project": project.slug,
        "content_hash": digest,
        "code_version": code_version,
        "config": config.as_dict(),
        "target_task_type_mix": dict(sorted(project.task_type_mix.items())),
        **counts,
    }
    json_path, md_path = folder / "card.json", folder / "card.md"
    json_path.write_text(json.dumps(card, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(_markdown(card), encoding="utf-8")
    return [json_path, md_path]


def _table(title: str, rows: dict, headers=("", "rows")) -> list[str]:
    if not rows:
        return []
    lines = [f"### {title}", "", f"| {headers[0]} | {headers[1]} |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in rows.items()]
    return [*lines, ""]


def _markdown(card: dict) -> str:
    config = card["config"]
    rows = card["rows"]
    lines = [
        f"# Dataset card: {card['project']}",
        "",
        f"Content hash `{card['content_hash']}` · code version `{card['code_version'] or 'unknown'}`",
        "",
        "## Files",
        "",
        "| file | rows | format |",
        "|---|---|---|",
    ]
    for name, count in rows.items():
        kind = name.split(".")[0]
        lines.append(f"| `{name}.jsonl` (and `.parquet`) | {count} | {FORMATS[kind]} |")
    lines += [
        "",
        "## What went in",
        "",
        "- SFT: demonstrations and refusal cases accepted by a reviewer (or not rejected, when the project needs no "
        "review), with reviewer edits applied; and responses annotators wrote as better than the candidates, under "
        "the same review rule. Each row's `prompt` is the conversation so far (the system prompt, the imported "
        "turns, assistant turns included) and its `completion` the turns the annotator wrote (the answer and any "
        "follow-up turns), so the loss covers only what annotators wrote: SFTTrainer masks the prompt by default "
        "(`completion_only_loss`), and with `assistant_only_loss` also the annotator's follow-up user turns.",
        f"- DPO: pairwise items where a strict majority holds at least {config['min_agreement']:.0%} of the votes "
        f"(tie votes {'left out of' if config['ties'] == 'ignore' else 'counted in'} the vote) "
        f"with a median strength of at least “{config['min_strength']}”; an adjudicated label overrides the votes; "
        "a ranked item (three or more responses) gives a row for every pair of its responses settled by the same "
        "rule, each pair voted on by every ranking (a ranking has no strength, so the strength rule is for A/B items)"
        f"{'; gold items excluded' if config['exclude_gold'] else ''}"
        f"{'; model-review judgments included' if config['include_model_review'] else ''}. "
        "A better response written by an annotator is chosen over each original; when the item's label was dropped, "
        "only if a reviewer accepted it. Each DPO row's `origin` says where its pair came from: `human`, or a "
        "model's answers (`on_policy`: two samples on one prompt; `safety_mistake`: a refusal or compliance the "
        "prompt's safety label called wrong, against the accepted human answer), judged by annotators like any pair.",
        f"- Gold items of every kind: {'left out' if config['exclude_gold'] else 'included'}.",
        f"- Split: floor({config['eval_fraction']:.0%} × clusters) whole near-duplicate clusters per task type to "
        f"eval (seed {config['seed']})"
        + (f", eval pinned to snapshot {config['pin_eval_from']}" if config["pin_eval_from"] else "")
        + f"; a cluster never crosses splits. Guarantee: no eval prompt has a train prompt whose word {SHINGLE_WORDS}"
        f"-gram shingles have a Jaccard similarity of {THRESHOLD} or more; every such pair is found exactly at build "
        "time (an all-pairs similarity join, not a MinHash estimate) and kept in one cluster.",
        "- Eval has none of: " + (", ".join(card["eval_none_of"]) or "(every task type has eval rows)") + ".",
        "",
        "## Counts",
        "",
    ]
    lines += _table("SFT rows per task type", card["task_types"]["sft"], ("task type", "rows"))
    lines += _table("DPO rows per task type", card["task_types"]["dpo"], ("task type", "rows"))
    lines += _table("SFT rows per safety label and harm category", card["harm_categories"], ("label", "rows"))
    lines += _table("SFT rows per source", card["sources"]["sft"], ("source", "rows"))
    lines += _table("DPO rows per source", card["sources"]["dpo"], ("source", "rows"))
    groups = card["train_groups"]
    lines += _table("Training rows (SFT and DPO) per domain", groups["domain"], ("domain", "rows"))
    lines += _table(
        "Training rows (SFT and DPO) per tag; a row counts in each of its tags", groups["tag"], ("tag", "rows")
    )
    lines += _table("Left out", card["dropped"], ("reason", "items or rows"))
    mix = card["mix"]
    if mix["realised"]:
        lines += [
            f"### Mix of SFT training rows by {mix['by']}",
            "",
            "| group | target | realised | rows |",
            "|---|---|---|---|",
        ]
        for group, share in mix["realised"].items():
            target = mix["target"].get(group, mix["target"].get("*", ""))
            lines.append(f"| {group} | {target} | {share} | {mix['train_rows'][group]} |")
        lines.append("")
    agreement = card["agreement"]
    lines += [
        "## Agreement and length",
        "",
        f"- DPO pairs: mean agreement {agreement['mean']}, unanimous share {agreement['unanimous_share']}, "
        f"{agreement['adjudicated']} adjudicated.",
    ]
    for name, stats in card["lengths"].items():
        if stats:
            lines.append(f"- {name} characters: mean {stats['mean']}, median {stats['median']}, p95 {stats['p95']}.")
    check = card.get("template_check")
    if check:
        lines += ["", f"## Chat template check ({check['tokenizer']}, max_length {check['max_length']})", ""]
        lines += ["| file | rows | over max_length | longest (tokens) |", "|---|---|---|---|"]
        for name, found in check["files"].items():
            lines.append(f"| {name} | {found['rows']} | {found['over_max_length']} | {found['longest_tokens']} |")
    lines += ["", "## Configuration", "", "```json", json.dumps(config, indent=2, sort_keys=True), "```", ""]
    return "\n".join(lines)
