"""Turning several pairwise judgments of one item into at most one (chosen, rejected) label."""

from dataclasses import dataclass

from annotation.payloads import STRENGTH_SCORE
from annotation.taxonomy import TIE


@dataclass(frozen=True)
class Label:
    winner: int  # index of the chosen response (0 or 1)
    agreement: float  # share of the considered votes that back the winner
    votes: int
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
        return Label(choice, backing / len(considered) if considered else 0.0, len(considered), adjudicated=True)
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
    return Label(winner, agreement, len(considered))
