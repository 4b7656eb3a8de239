"""Turning several judgments of one item into (chosen, rejected) labels: one for an A/B item, one per settled
pair of responses for a ranked item."""

from dataclasses import dataclass

from annotation.payloads import RANKED_FROM, STRENGTH_SCORE, pair_votes
from annotation.taxonomy import STRENGTHS, TIE


@dataclass(frozen=True)
class Label:
    winner: int  # index of the chosen response within the pair (0 or 1)
    agreement: float  # share of the considered votes that back the winner
    votes: int
    backing: int  # how many of the considered votes back the winner
    adjudicated: bool = False


def aggregate(scores: list[int], *, ties: str, min_agreement: float, min_strength: str, adjudication=None):
    """The item's label from signed scores (+ favours response 0, − response 1, 0 a tie), or None to drop it.

    An adjudicated label wins over the votes (a tie adjudication drops the item). Otherwise the strict majority
    wins if it holds at least `min_agreement` of the votes and its median strength reaches `min_strength`;
    `ties="count"` keeps tie votes as votes for neither response, `"ignore"` leaves them out. An item whose
    majority is a tie is always dropped: a tie is no preference to learn from.
    """
    considered = [s for s in scores if s != 0] if ties == "ignore" else list(scores)
    if adjudication is not None:
        choice, _ = adjudication
        if choice == TIE or choice not in (0, 1):
            return None
        backing = sum(1 for s in considered if (s > 0) == (choice == 0) and s != 0)
        agreement = backing / len(considered) if considered else 0.0
        return Label(choice, agreement, len(considered), backing, adjudicated=True)
    if not considered:
        return None
    for_0 = [s for s in considered if s > 0]
    for_1 = [-s for s in considered if s < 0]
    ties_n = len(considered) - len(for_0) - len(for_1)
    top = max(len(for_0), len(for_1), ties_n)
    if [len(for_0), len(for_1), ties_n].count(top) > 1 or ties_n == top:
        return None
    winner, strengths = (0, for_0) if len(for_0) == top else (1, for_1)
    agreement = top / len(considered)
    strengths = sorted(strengths)
    median = strengths[(len(strengths) - 1) // 2]
    if agreement < min_agreement or median < STRENGTH_SCORE[min_strength]:
        return None
    return Label(winner, agreement, len(considered), top)


def _pair_adjudication(adjudication, i: int, j: int, count: int):
    """The part of an item's adjudication that decides the pair (i, j), in the pair's own terms, or None."""
    if adjudication is None:
        return None
    choice, strength = adjudication
    if isinstance(choice, list):
        vote = pair_votes({"ranking": choice}, count)[i, j]
        return (TIE, "") if vote == 0 else (0 if vote > 0 else 1, strength)
    if choice == TIE:
        return TIE, ""
    if choice in (i, j):
        return (0 if choice == i else 1), strength
    return None


def pair_labels(
    count: int, judgments: list[tuple], *, ties: str, min_agreement: float, min_strength: str, adjudication=None
) -> list[tuple[int, int, Label]]:
    """(chosen id, rejected id, label) for every pair of an item's `count` responses that its judgments settle.

    `judgments` are (signed score, payload) pairs. An A/B item is settled by `aggregate` on the scores. A ranked
    item is settled pair by pair with the same policy, from the votes each judgment implies for that pair
    (`pair_votes`); a ranking states order, not strength, so `min_strength` applies to A/B items only. An
    adjudicated ranking decides every pair; an adjudicated single choice decides the pairs it is in.
    """
    if count < RANKED_FROM:
        label = aggregate(
            [score for score, _ in judgments],
            ties=ties,
            min_agreement=min_agreement,
            min_strength=min_strength,
            adjudication=adjudication,
        )
        return [] if label is None else [(label.winner, 1 - label.winner, label)]
    votes = [pair_votes(payload, count) for _, payload in judgments]
    settled = []
    for i in range(count):
        for j in range(i + 1, count):
            label = aggregate(
                [vote[i, j] for vote in votes if (i, j) in vote],
                ties=ties,
                min_agreement=min_agreement,
                min_strength=STRENGTHS[0],
                adjudication=_pair_adjudication(adjudication, i, j, count),
            )
            if label is not None:
                settled.append((i, j, label) if label.winner == 0 else (j, i, label))
    return settled
