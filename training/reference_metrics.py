"""Reference-based metrics of model answers, by task type: each answer scored against every accepted human answer for
its eval item, and figures (value, bootstrap interval, n) over a group of items. Pure functions on plain data;
sacrebleu, rouge_score and numpy load only when called.

- accuracy (classification), exact_match (closed QA), token_f1 (extraction): SQuAD rules on both sides (lower-case,
  drop punctuation, ASCII and Unicode, drop the articles a/an/the, split on whitespace). Accuracy is normalised
  equality with the label: "Positive." is right, "Label: positive" is not (a short bare label is the expected format).
- rouge_l (summarization): rouge_score's ROUGE-L F-measure without stemming, on Unicode words (its default tokenizer
  keeps only a-z0-9, so a summary in Russian or with accents would lose its words).
- chrf, bleu (translation): sacreBLEU with its defaults (chrF: character 6-grams, beta 2; BLEU: 13a tokens, 4-grams).
- code_syntax (code): training.checks.code_parses; the code is parsed, never run, and needs no reference.
Several references: the best score over them (SQuAD convention), except chrF and BLEU, which sacreBLEU computes with
all references at once."""

import re
import string
import unicodedata
from collections import Counter
from functools import cache

from training.comparison import bootstrap_percentiles

METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy",),
    "closed_qa": ("exact_match",),
    "extraction": ("token_f1",),
    "summarization": ("rouge_l",),
    "translation": ("chrf", "bleu"),
    "code": ("code_syntax",),
}
LABELS: dict[str, str] = {
    "accuracy": "Accuracy",
    "exact_match": "Exact match",
    "token_f1": "Token F1",
    "rouge_l": "ROUGE-L F1",
    "chrf": "chrF",
    "bleu": "BLEU",
    "code_syntax": "Code that parses",
}
SCALE: dict[str, int] = dict.fromkeys(LABELS, 1) | {"chrf": 100, "bleu": 100}
MIN_ITEMS = 5
LOW_SCORE: dict[str, float] = {
    "accuracy": 0.5,
    "exact_match": 0.5,
    "code_syntax": 0.5,
    "token_f1": 0.5,
    "rouge_l": 0.2,
    "chrf": 0.3,
    "bleu": 0.1,
}
"""An item scoring below this (0..1) is a failure. Binary metrics score 0 or 1, so below 0.5 is a wrong answer; the
others sit where an answer shares little with every reference: under half the tokens (F1), under 0.2 ROUGE-L F1
(abstractive summaries near a human one usually score 0.2-0.45), chrF under 30, sentence BLEU under 10."""

_CORPUS_METRICS = {"chrf", "bleu"}
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_WORDS = re.compile(r"[^\W_]+")


def _is_punctuation(char: str) -> bool:
    return char in string.punctuation or unicodedata.category(char).startswith("P")


def _squad_tokens(text: str) -> list[str]:
    kept = "".join(c for c in text.lower() if not _is_punctuation(c))
    return _ARTICLES.sub(" ", kept).split()


def _token_f1(response: str, reference: str) -> float:
    predicted, gold = _squad_tokens(response), _squad_tokens(reference)
    if not predicted or not gold:
        return float(predicted == gold)
    same = sum((Counter(predicted) & Counter(gold)).values())
    if not same:
        return 0.0
    precision, recall = same / len(predicted), same / len(gold)
    return 2 * precision * recall / (precision + recall)


class _UnicodeWords:
    """rouge_score tokenizer: lower-cased runs of Unicode letters and digits (its default's a-z0-9, beyond ASCII)."""

    def tokenize(self, text: str) -> list[str]:
        return _WORDS.findall(text.lower())


@cache
def _rouge():
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(["rougeL"], use_stemmer=False, tokenizer=_UnicodeWords())


def _sacrebleu(metric: str, *, sentence: bool = False):
    from sacrebleu.metrics import BLEU, CHRF

    return CHRF() if metric == "chrf" else BLEU(effective_order=sentence)


def _checked(response, references) -> tuple[str, list[str]]:
    """The response ("" for None) and the non-blank references; anything else is a TypeError naming the field."""
    if response is None:
        response = ""
    if not isinstance(response, str):
        raise TypeError(f"response must be a string, not {type(response).__name__}")
    if not isinstance(references, list | tuple) or not all(isinstance(ref, str) for ref in references):
        raise TypeError(f"references must be a list of strings, not {references!r:.80}")
    return response, [ref for ref in references if ref.strip()]


def _score(metric: str, response: str, references: list[str]) -> float:
    if metric == "code_syntax":
        from training.checks import code_parses  # training.checks imports annotation, and so Django

        return float(code_parses(response))
    if not response.strip():
        return 0.0
    if metric in ("accuracy", "exact_match"):
        return max(float(_squad_tokens(response) == _squad_tokens(ref)) for ref in references)
    if metric == "token_f1":
        return max(_token_f1(response, ref) for ref in references)
    if metric == "rouge_l":
        return _rouge().score_multi(references, response)["rougeL"].fmeasure
    return min(_sacrebleu(metric, sentence=True).sentence_score(response, references).score / 100, 1.0)


def item_scores(task_type: str, response: str, references: list[str]) -> dict[str, float]:
    """Each of the type's metrics for one answer on a 0..1 scale ({} when the type has no metric, or no reference
    for a metric that needs one). Sentence chrF and BLEU (with effective order) are sacreBLEU's divided by 100."""
    response, references = _checked(response, references)
    return {
        metric: _score(metric, response, references)
        for metric in METRICS.get(task_type, ())
        if references or metric == "code_syntax"
    }


def item_score(task_type: str, response: str, references: list[str]) -> float | None:
    """The type's first (primary) metric for one answer, 0..1; None when it has none."""
    scores = item_scores(task_type, response, references)
    return scores.get(METRICS[task_type][0]) if scores else None


def _figure(n: int, value: float | None = None, interval: list[float] | None = None) -> dict:
    enough = n >= MIN_ITEMS
    note = "" if enough else f"{n} eval item{'' if n == 1 else 's'}; at least {MIN_ITEMS} are needed for a figure"
    return {"value": value, "interval": interval, "n": n, "enough": enough, "note": note}


def _interval(samples, confidence: float, lowest: float, highest: float) -> list[float]:
    """Percentile interval, clipped to what a resample can reach (so equal scores give [x, x] despite rounding)."""
    low, high = bootstrap_percentiles(samples, confidence)
    return [float(min(max(low, lowest), highest)), float(min(max(high, lowest), highest))]


def mean_figure(scores: list[float], *, resamples: int = 1000, seed: int = 0, confidence: float = 0.95) -> dict:
    """The mean of 0..1 item scores with a percentile bootstrap interval over items, as a figure dict (see
    `figures`); no value under MIN_ITEMS scores, no interval with resamples=0."""
    if len(scores) < MIN_ITEMS:
        return _figure(len(scores))
    import numpy as np

    values = np.asarray(scores, dtype=float)
    interval = None
    if resamples > 0:
        picks = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
        interval = _interval(values[picks].mean(axis=1), confidence, values.min(), values.max())
    return _figure(len(values), float(values.mean()), interval)


def _corpus_figure(metric: str, rows: list[tuple[str, list[str]]], resamples: int, seed: int, confidence: float):
    """sacreBLEU's corpus score, with a percentile interval over resampled segments. This is how sacreBLEU's own
    bootstrap works (significance._bootstrap_resample: segment statistics extracted once, resampled rows summed,
    the score recomputed), done here because its version fixes 95%, takes its seed from SACREBLEU_SEED and reports
    a symmetric half-width; the private statistics methods it uses are pinned by requirements.txt's sacrebleu==."""
    if len(rows) < MIN_ITEMS:
        return _figure(len(rows))
    import numpy as np

    scorer = _sacrebleu(metric)
    streams = [[refs[k] if k < len(refs) else None for _, refs in rows] for k in range(max(len(r) for _, r in rows))]
    stats = np.array(scorer._extract_corpus_statistics([response for response, _ in rows], streams), dtype=float)
    value = float(scorer._compute_score_from_stats(stats.sum(axis=0)).score)
    interval = None
    if resamples > 0:
        picks = np.random.default_rng(seed).integers(0, len(rows), size=(resamples, len(rows)))
        samples = [scorer._compute_score_from_stats(stats[pick].sum(axis=0)).score for pick in picks]
        interval = _interval(np.array(samples), confidence, 0.0, 100.0)
    return _figure(len(rows), value, interval)


def figures(
    task_type: str,
    rows: list[tuple[str, list[str]]],
    *,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, dict]:
    """Every metric of the type over (response, references) rows, as {metric: {"value", "interval", "n", "enough",
    "note"}} on the metric's SCALE. Rows without a reference are left out, except for code_syntax. Accuracy, EM, F1,
    ROUGE-L, code_syntax: the mean item score (see mean_figure); chrF and BLEU: the corpus score, not a mean of
    sentence scores (see _corpus_figure). Under MIN_ITEMS rows: value and interval None, enough False, and a note
    saying so. Deterministic for a seed."""
    checked = [_checked(response, references) for response, references in rows]
    result = {}
    for metric in METRICS.get(task_type, ()):
        used = [row for row in checked if row[1] or metric == "code_syntax"]
        if metric in _CORPUS_METRICS:
            result[metric] = _corpus_figure(metric, used, resamples, seed, confidence)
        else:
            scores = [_score(metric, response, references) for response, references in used]
            result[metric] = mean_figure(scores, resamples=resamples, seed=seed, confidence=confidence)
    return result
