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

# What people read on screen for each stored value; a value missing here (a project's own task type) is shown
# with its underscores as spaces (annotation.templatetags.quorum.humanize_code).
KIND_LABELS = {
    Kind.DEMONSTRATION: "Demonstration",
    Kind.REFUSAL: "Refusal case",
    Kind.PREFERENCE: "Preference",
    Kind.MODEL_REVIEW: "Model review",
}
TASK_TYPE_LABELS = {
    "open_qa": "Open question",
    "closed_qa": "Closed question",
    "summarization": "Summarization",
    "extraction": "Extraction",
    "classification": "Classification",
    "rewriting": "Rewriting",
    "translation": "Translation",
    "brainstorming": "Brainstorming",
    "creative_writing": "Creative writing",
    "code": "Code",
    "reasoning": "Reasoning",
    "chat": "Chat",
}
SAFETY_LABELS = {Safety.SHOULD_REFUSE: "Should refuse", Safety.SHOULD_COMPLY: "Should answer"}
HARM_CATEGORY_LABELS = {
    "violence": "Violence",
    "weapons": "Weapons",
    "self_harm": "Self-harm",
    "hate": "Hate",
    "sexual": "Sexual content",
    "illegal_activity": "Illegal activity",
    "privacy": "Privacy",
    "cyber": "Cyber security",
    "medical_advice": "Medical advice",
    "other": "Other",
}
REFUSAL_STYLE_LABELS = {
    "decline_explain": "Decline and explain",
    "safe_alternative": "Offer a safe alternative",
    "redirect_help": "Redirect to help",
}
STRENGTH_LABELS = {"slight": "Slightly better", "clear": "Clearly better", "strong": "Much better"}
# Annotator-quality measures, as their flags name them ("left_share: favours one side of the screen").
METRIC_LABELS = {
    "loo_agreement": "Agreement with the majority",
    "gold_accuracy": "Gold accuracy",
    "left_share": "Picks the left response",
    "tie_rate": "Tie rate",
    "longer_share": "Picks the longer response",
    "median_seconds": "Time per judgment",
    "self_consistency": "Self-consistency",
    "list_share": "Lists",
    "heading_share": "Headings",
    "code_share": "Code blocks",
    "length": "Length",
    "over-refusal": "Over-refusal",
}
REVIEW_DECISION_LABELS = {"accept": "Accepted", "reject": "Rejected", "edit_accept": "Edited and accepted"}
REVIEW_STATUS_LABELS = {"pending": "Awaiting review", "accepted": "Accepted", "rejected": "Rejected"}
CRITERION_LABELS = {"helpfulness": "Helpfulness", "harmlessness": "Harmlessness", "honesty": "Honesty"}

# Documented in README.md ("Limits").
MAX_TEXT_CHARS = 20_000
MAX_MESSAGES = 50
MAX_RESPONSES = 8
MAX_SHORT_CHARS = 100
MAX_RATIONALE_CHARS = 5_000
MAX_META_BYTES = 10_000
MAX_IMPORT_LINE_BYTES = 1_000_000
MAX_IMPORT_LINES = 200_000
