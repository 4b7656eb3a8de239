"""Consistency of written responses: each annotator's style against the pool, and contradictory decisions on
near-duplicate prompts (one refused, the other answered)."""

import re
import statistics

from django.db.models import Q

from annotation.models import Annotation, Project
from annotation.refusals import is_refusal
from annotation.taxonomy import Kind, Safety

LIST = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+", re.MULTILINE)
HEADING = re.compile(r"^\s*#{1,6}\s", re.MULTILINE)
CODE = re.compile(r"```")
MIN_N = 10
STYLE_GAP = 0.3  # a formatting share this far from the pool's is flagged
LENGTH_FACTOR = 2.0  # a median length this many times above or below the pool's is flagged
OVER_REFUSAL = 0.1  # share of answerable prompts refused


def _shares(texts: list[str]) -> dict:
    n = len(texts) or 1
    return {
        "median_chars": statistics.median([len(t) for t in texts]) if texts else None,
        "list_share": sum(bool(LIST.search(t)) for t in texts) / n,
        "heading_share": sum(bool(HEADING.search(t)) for t in texts) / n,
        "code_share": sum(bool(CODE.search(t)) for t in texts) / n,
    }


def response_style(project: Project) -> dict:
    """Per annotator and for the whole pool: length, formatting, and how refusals and answers read."""
    rows = (
        Annotation.objects.filter(project=project, kind__in=[Kind.DEMONSTRATION, Kind.REFUSAL])
        .values_list("annotator__username", "payload__response", "item__safety")
        .order_by("id")
    )
    by_person: dict[str, list[tuple[str, str]]] = {}
    for person, text, safety in rows:
        by_person.setdefault(person, []).append((text or "", safety))
    everyone = [entry for entries in by_person.values() for entry in entries]
    pool = _style(everyone)
    people = []
    for person, entries in sorted(by_person.items()):
        style = _style(entries)
        style["annotator"] = person
        style["flags"] = _flags(style, pool, len(entries))
        people.append(style)
    people.sort(key=lambda row: (-len(row["flags"]), row["annotator"]))
    return {"pool": pool, "annotators": people}


def _style(entries: list[tuple[str, str]]) -> dict:
    texts = [text for text, _ in entries]
    refusals = [text for text, safety in entries if safety == Safety.SHOULD_REFUSE]
    answerable = [text for text, safety in entries if safety != Safety.SHOULD_REFUSE]
    style = {"responses": len(texts), **_shares(texts)}
    style["refusals_read_as_refusal"] = sum(map(is_refusal, refusals)) / len(refusals) if refusals else None
    style["answerable_refused"] = sum(map(is_refusal, answerable)) / len(answerable) if answerable else None
    return style


def _flags(style: dict, pool: dict, n: int) -> list[str]:
    if n < MIN_N:
        return []
    flags = []
    if pool["median_chars"] and style["median_chars"]:
        ratio = style["median_chars"] / pool["median_chars"]
        if ratio > LENGTH_FACTOR or ratio < 1 / LENGTH_FACTOR:
            flags.append(f"length: median {style['median_chars']:.0f} characters against {pool['median_chars']:.0f}")
    for name in ("list_share", "heading_share", "code_share"):
        if abs(style[name] - pool[name]) > STYLE_GAP:
            flags.append(f"{name}: {style[name]:.0%} against {pool[name]:.0%} in the pool")
    if style["answerable_refused"] is not None and style["answerable_refused"] > OVER_REFUSAL:
        flags.append(f"over-refusal: {style['answerable_refused']:.0%} of answerable prompts read as refused")
    return flags


def refusal_conflicts(project: Project, limit: int = 100) -> list[dict]:
    """Near-duplicate clusters whose prompts were labelled or answered both ways."""
    rows = (
        Annotation.objects.filter(project=project, kind__in=[Kind.DEMONSTRATION, Kind.REFUSAL])
        .filter(Q(item__duplicate_of__isnull=False) | Q(item__near_duplicates__isnull=False))
        .values_list("item_id", "item__duplicate_of", "item__safety", "payload__response")
        .distinct()
    )
    clusters: dict[int, dict] = {}
    for item_id, root, safety, text in rows:
        cluster = clusters.setdefault(root or item_id, {"items": set(), "labels": set(), "refused": 0, "answered": 0})
        cluster["items"].add(item_id)
        if safety:
            cluster["labels"].add(safety)
        cluster["refused" if is_refusal(text) else "answered"] += 1
    conflicts = [
        {
            "root": root,
            "items": sorted(c["items"]),
            "labels": sorted(c["labels"]),
            "refused": c["refused"],
            "answered": c["answered"],
        }
        for root, c in sorted(clusters.items())
        if len(c["items"]) > 1 and ((c["refused"] and c["answered"]) or len(c["labels"]) > 1)
    ]
    return conflicts[:limit]
