"""The fixed vocabulary of Quorum (DESIGN.md) and the documented size limits."""

from django.db import models


class Kind(models.TextChoices):
    DEMONSTRATION = "demonstration"
    REFUSAL = "refusal"
    PREFERENCE = "preference"
    MODEL_REVIEW = "model_review"


PAIRWISE_KINDS = {Kind.PREFERENCE, Kind.MODEL_REVIEW}


class Role(models.TextChoices):
    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    ADMIN = "admin"


class Safety(models.TextChoices):
    SHOULD_REFUSE = "should_refuse"
    SHOULD_COMPLY = "should_comply"


DEFAULT_TASK_TYPES = [
    "open_qa",
    "closed_qa",
    "summarization",
    "extraction",
    "classification",
    "rewriting",
    "translation",
    "brainstorming",
    "creative_writing",
    "code",
    "reasoning",
    "chat",
]

HARM_CATEGORIES = [
    "violence",
    "weapons",
    "self_harm",
    "hate",
    "sexual",
    "illegal_activity",
    "privacy",
    "cyber",
    "medical_advice",
    "other",
]

REFUSAL_STYLES = ["decline_explain", "safe_alternative", "redirect_help"]
STRENGTHS = ["slight", "clear", "strong"]
CRITERIA = ["helpfulness", "harmlessness", "honesty"]
TIE = "tie"
MESSAGE_ROLES = {"system", "user", "assistant"}

# Documented in README.md ("Limits").
MAX_TEXT_CHARS = 20_000
MAX_MESSAGES = 50
MAX_RESPONSES = 8
MAX_SHORT_CHARS = 100
MAX_RATIONALE_CHARS = 5_000
MAX_META_BYTES = 10_000
MAX_IMPORT_LINE_BYTES = 1_000_000
MAX_IMPORT_LINES = 200_000
