"""Reference-based metrics: worked examples computed by hand, the bootstrap interval, and the MIN_ITEMS floor."""

import math
import subprocess
import sys

import pytest

from training.reference_metrics import (
    LABELS,
    LOW_SCORE,
    METRICS,
    MIN_ITEMS,
    SCALE,
    figures,
    item_score,
    item_scores,
    mean_figure,
)

FOX_REF = "the quick brown fox jumps over the lazy dog"
FOX_HYP = "the quick brown fox jumps over the dog"
# Hand BLEU of FOX_HYP (8 tokens) against FOX_REF (9 tokens): n-gram precisions 8/8, 6/7 ("the dog" is not in the
# reference), 5/6 ("over the dog"), 4/5 ("jumps over the dog"); brevity penalty exp(1 - 9/8).
FOX_BLEU = math.exp(1 - 9 / 8) * (8 / 8 * 6 / 7 * 5 / 6 * 4 / 5) ** (1 / 4)


def test_importing_the_module_loads_no_numerical_library_and_no_django():
    code = (
        "import sys, training.reference_metrics; "
        "print(sorted({'numpy', 'scipy', 'sacrebleu', 'rouge_score', 'django'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_metric_has_a_label_a_scale_and_a_failure_threshold():
    metrics = {metric for names in METRICS.values() for metric in names}
    assert metrics == set(LABELS) == set(SCALE) == set(LOW_SCORE)
    assert (SCALE["chrf"], SCALE["bleu"], SCALE["rouge_l"]) == (100, 100, 1)


@pytest.mark.parametrize(
    ("response", "reference", "expected"),
    [
        ("The Cat!", "cat", 1.0),  # case, punctuation and the article go
        ("  a   black, cat. ", "Black cat", 1.0),  # spacing collapses
        ("«Москва»", "москва", 1.0),  # Unicode punctuation and case too
        ("cats", "cat", 0.0),  # no stemming
        ("the cat sat", "cat", 0.0),  # equality, not containment
    ],
)
def test_exact_match_uses_the_squad_normalisation(response, reference, expected):
    assert item_scores("closed_qa", response, [reference]) == {"exact_match": expected}


def test_classification_accuracy_is_normalised_equality_with_the_label():
    assert item_score("classification", "Positive.", ["positive"]) == 1.0
    assert item_score("classification", "Label: positive", ["positive"]) == 0.0
    assert item_score("classification", "negative", ["positive", "Negative"]) == 1.0  # the best over references


def test_token_f1_on_the_squad_example_and_the_best_reference():
    # "the Denver Broncos won" -> [denver, broncos, won]; gold [denver, broncos]: 2 shared tokens,
    # precision 2/3, recall 2/2, F1 = 2 * (2/3) * 1 / (2/3 + 1) = 0.8.
    assert item_score("extraction", "the Denver Broncos won", ["Denver Broncos"]) == pytest.approx(0.8)
    assert item_score("extraction", "the Denver Broncos won", ["Carolina Panthers", "Denver Broncos"]) == (
        pytest.approx(0.8)
    )
    # Repeated tokens match once per copy: "broncos broncos" vs [broncos]: precision 1/2, recall 1, F1 2/3.
    assert item_score("extraction", "Broncos broncos", ["Broncos"]) == pytest.approx(2 / 3)
    assert item_score("extraction", "Panthers", ["Denver Broncos"]) == 0.0


def test_rouge_l_on_a_hand_computed_lcs():
    # LCS of "the cat on the mat" (5 tokens) in "the cat sat on the mat" (6) is all 5: P = 1, R = 5/6, F = 10/11.
    assert item_scores("summarization", "the cat on the mat", ["the cat sat on the mat"]) == {
        "rouge_l": pytest.approx(10 / 11)
    }
    assert item_score("summarization", "the cat on the mat", ["a dog", "the cat sat on the mat"]) == (
        pytest.approx(10 / 11)
    )


def test_rouge_l_counts_words_beyond_ascii():
    # "кошка сидит на ковре" vs "кошка на ковре": LCS 3, P = 1, R = 3/4, F = 6/7.
    assert item_score("summarization", "Кошка на ковре.", ["кошка сидит на ковре"]) == pytest.approx(6 / 7)


def test_sentence_bleu_and_chrf_by_hand():
    scores = item_scores("translation", FOX_HYP, [FOX_REF])
    assert scores["bleu"] == pytest.approx(FOX_BLEU)  # ≈ 0.767
    # chrF of "cat" against "cats" (character n-grams, beta 2, precision and recall averaged over the orders both
    # sides have): 1-grams P 3/3 R 3/4, 2-grams P 2/2 R 2/3, 3-grams P 1/1 R 1/2, so P = 1, R = 23/36 and
    # F2 = 5PR / (4P + R) = 115/167.
    assert item_scores("translation", "cat", ["cats"])["chrf"] == pytest.approx(115 / 167)
    assert item_scores("translation", FOX_HYP, ["something else", FOX_HYP]) == {"chrf": 1.0, "bleu": 1.0}
    # Under four words there are no 4-grams: sentence BLEU uses the orders it has (sacreBLEU's effective order).
    assert item_scores("translation", "Guten Tag", ["guten tag"])["bleu"] == 0.0  # BLEU is case-sensitive
    assert item_scores("translation", "Guten Tag", ["Guten Tag"])["bleu"] == 1.0


def test_corpus_bleu_pools_the_n_gram_counts_rather_than_averaging_sentences():
    """The fox pair plus 4 identical 6-token sentences: hypothesis 32 tokens, reference 33; matched/total n-grams
    32/32, 26/27, 21/22, 16/17; BLEU = exp(1 - 33/32) * geometric mean ≈ 93.48, where the mean of sentence scores
    would be (76.7 + 4 * 100) / 5 ≈ 95.3."""
    rows = [(FOX_HYP, [FOX_REF])] + [("the cat sat on the mat", ["the cat sat on the mat"])] * 4
    bleu = figures("translation", rows)["bleu"]
    expected = 100 * math.exp(1 - 33 / 32) * (26 / 27 * 21 / 22 * 16 / 17) ** (1 / 4)
    assert bleu["value"] == pytest.approx(expected)
    assert bleu["n"] == 5 and bleu["enough"]
    assert bleu["interval"][0] <= bleu["value"] <= bleu["interval"][1] <= 100


def test_identical_corpus_scores_100_and_corpus_chrf_matches_sacrebleu():
    import sacrebleu

    rows = [(f"sentence number {i} is here", [f"sentence number {i} is here"]) for i in range(6)]
    result = figures("translation", rows)
    assert result["chrf"]["value"] == pytest.approx(100) and result["bleu"]["value"] == pytest.approx(100)
    assert result["chrf"]["interval"] == pytest.approx([100, 100])

    mixed = [("cat", ["cats"]), ("a dog barks", ["the dog barks", "a dog is barking"])] * 3
    hyps = [hyp for hyp, _ in mixed]
    streams = [[refs[0] for _, refs in mixed], [refs[1] if len(refs) > 1 else None for _, refs in mixed]]
    got = figures("translation", mixed)
    assert got["chrf"]["value"] == pytest.approx(sacrebleu.corpus_chrf(hyps, streams).score)
    assert got["bleu"]["value"] == pytest.approx(sacrebleu.corpus_bleu(hyps, streams).score)


def test_code_syntax_parses_and_never_runs(tmp_path):
    marker = tmp_path / "ran"
    would_act = f"```python\nimport pathlib\npathlib.Path({str(marker)!r}).write_text('x')\nraise SystemExit(3)\n```"
    assert item_scores("code", would_act, []) == {"code_syntax": 1.0}
    assert not marker.exists()
    assert item_score("code", "```python\ndef f(:\n    pass\n```", ["def f(): pass"]) == 0.0
    assert item_score("code", "def f():\n    return 1", []) == 0.0  # no fence
    assert item_score("code", "Here:\n```\nprint('hi')\n```", []) == 1.0  # unlabelled block is Python


def test_no_reference_or_no_metric_gives_nothing():
    assert item_scores("closed_qa", "Paris", []) == {}
    assert item_scores("closed_qa", "Paris", ["  "]) == {}
    assert item_score("chat", "hello", ["hi"]) is None
    assert item_scores("brainstorming", "ideas", ["ideas"]) == {}


def test_empty_or_missing_response_scores_zero():
    for task_type in ("classification", "closed_qa", "extraction", "summarization", "translation", "code"):
        assert set(item_scores(task_type, "", ["some answer"]).values()) == {0.0}
        assert item_score(task_type, None, ["some answer"]) == 0.0
    assert item_score("closed_qa", "", ["The."]) == 0.0  # even where the reference normalises to nothing


def test_bad_input_names_the_field():
    with pytest.raises(TypeError, match="response"):
        item_scores("closed_qa", 42, ["42"])
    with pytest.raises(TypeError, match="references"):
        item_scores("closed_qa", "42", "42")
    with pytest.raises(TypeError, match="references"):
        figures("closed_qa", [("42", [42])] * 5)


def test_bootstrap_interval_matches_the_normal_approximation():
    """80 ones in 100: mean 0.8, standard error sqrt(0.8 * 0.2 / 100) = 0.04, so about 0.8 ± 0.0784."""
    figure = mean_figure([1.0] * 80 + [0.0] * 20)
    assert figure["value"] == pytest.approx(0.8)
    low, high = figure["interval"]
    assert low == pytest.approx(0.8 - 1.96 * 0.04, abs=0.02)
    assert high == pytest.approx(0.8 + 1.96 * 0.04, abs=0.02)
    assert low < figure["value"] < high
    assert figure | {"interval": None} == {"value": 0.8, "interval": None, "n": 100, "enough": True, "note": ""}


def test_interval_is_degenerate_for_equal_scores_and_deterministic_for_a_seed():
    assert mean_figure([0.1] * 7)["interval"] == [0.1, 0.1]
    scores = [(i % 7) / 6 for i in range(40)]
    assert mean_figure(scores, seed=3) == mean_figure(scores, seed=3)
    assert mean_figure(scores, seed=3)["interval"] != mean_figure(scores, seed=4)["interval"]
    assert mean_figure(scores, resamples=0)["interval"] is None
    rows = [(f"word {i} and more", [f"word {i % 3} and less"]) for i in range(12)]
    assert figures("translation", rows, seed=5) == figures("translation", rows, seed=5)


def test_a_narrower_confidence_gives_a_narrower_interval():
    scores = [(i % 5) / 4 for i in range(50)]
    wide, narrow = mean_figure(scores)["interval"], mean_figure(scores, confidence=0.5)["interval"]
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


def test_under_min_items_there_is_no_number():
    rows = [("Paris", ["Paris"])] * (MIN_ITEMS - 1)
    assert figures("closed_qa", rows) == {
        "exact_match": {
            "value": None,
            "interval": None,
            "n": 4,
            "enough": False,
            "note": "4 eval items; at least 5 are needed for a figure",
        }
    }
    translated = figures("translation", [("hallo", ["hello"])] * 4)
    assert translated["chrf"]["value"] is None and translated["bleu"]["note"].startswith("4 eval items")
    assert mean_figure([1.0])["note"] == "1 eval item; at least 5 are needed for a figure"

    enough = figures("closed_qa", rows + [("Rome", ["Paris"])])["exact_match"]
    assert enough["value"] == pytest.approx(0.8) and enough["enough"] and enough["n"] == 5


def test_rows_without_references_are_left_out_except_for_code():
    rows = [("Paris", ["Paris"])] * 5 + [("Paris", [])] * 3
    assert figures("closed_qa", rows)["exact_match"]["n"] == 5
    code = [("```python\nx = 1\n```", [])] * 4 + [("no code", [])]
    assert figures("code", code)["code_syntax"] | {"interval": None} == {
        "value": pytest.approx(0.8),
        "interval": None,
        "n": 5,
        "enough": True,
        "note": "",
    }
    assert figures("chat", rows) == {}
