import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from annotation.taxonomy import DEFAULT_TASK_TYPES, HARM_CATEGORIES, Kind, Role, Safety


def default_kinds() -> list[str]:
    return list(Kind.values)


def default_task_types() -> list[str]:
    return list(DEFAULT_TASK_TYPES)


def default_harm_categories() -> list[str]:
    return list(HARM_CATEGORIES)


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to annotators: the latest GuidelineVersion.")
    guidelines_version = models.PositiveIntegerField(default=0, help_text="Number of the latest GuidelineVersion.")
    kinds = models.JSONField(default=default_kinds, help_text="Enabled kinds of work.")
    task_types = models.JSONField(default=default_task_types, help_text="The project's task-type taxonomy.")
    task_type_mix = models.JSONField(default=dict, blank=True, help_text="Target share per task type.")
    overlap = models.PositiveSmallIntegerField(default=1, help_text="Distinct annotators per item.")
    gold_rate = models.FloatField(default=0.0, help_text="Share of assignments drawn from gold items.")
    repeat_rate = models.FloatField(
        default=0.0, help_text="Share of pairwise assignments that re-show an item the annotator judged, sides swapped."
    )
    lease_seconds = models.PositiveIntegerField(default=1800)
    require_rationale = models.BooleanField(default=False)
    require_review = models.BooleanField(
        default=True, help_text="Demonstrations and refusals need a reviewer's acceptance before export."
    )
    prioritise_coverage = models.BooleanField(
        default=False, help_text="Hand out items of the task types furthest below their target share first."
    )
    model_review_share = models.FloatField(
        default=0.25, help_text="Share of assignments drawn from open model_review items, while there are any."
    )
    queue_choice = models.BooleanField(
        default=False, help_text="Annotators may choose their queue: everything, one kind or one task type."
    )
    harm_categories = models.JSONField(
        default=default_harm_categories, help_text="Harm categories a should-refuse item may name."
    )
    system_prompt = models.TextField(blank=True, help_text="System prompt written into exported conversations.")
    archived_at = models.DateTimeField(null=True, blank=True, help_text="Set when archived: the project is read-only.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1, overlap__lte=50), name="project_overlap_range"),
            models.CheckConstraint(condition=Q(gold_rate__gte=0, gold_rate__lte=1), name="project_gold_rate_range"),
            models.CheckConstraint(
                condition=Q(repeat_rate__gte=0, repeat_rate__lte=0.5), name="project_repeat_rate_range"
            ),
            models.CheckConstraint(condition=Q(lease_seconds__gte=30), name="project_lease_min"),
            models.CheckConstraint(
                condition=Q(model_review_share__gte=0, model_review_share__lte=1), name="project_model_review_share"
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    guidelines_seen = models.PositiveIntegerField(default=0, help_text="The guideline version last shown to them.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} as {self.role} in {self.project_id}"


class Item(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    prompt = models.TextField(blank=True)
    messages = models.JSONField(null=True, blank=True)
    task_type = models.CharField(max_length=100, blank=True)
    domain = models.CharField(max_length=100, blank=True)
    safety = models.CharField(max_length=16, choices=Safety.choices, blank=True)
    harm_category = models.CharField(max_length=100, blank=True)
    responses = models.JSONField(default=list, blank=True)
    gold = models.JSONField(null=True, blank=True)
    is_gold = models.BooleanField(default=False)
    meta = models.JSONField(default=dict, blank=True)
    passage = models.ForeignKey("Passage", null=True, blank=True, on_delete=models.SET_NULL, related_name="items")
    authored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="authored_items"
    )
    content_hash = models.CharField(max_length=64)
    # MinHash of the prompt's word shingles (annotation.neardup) and the earliest near-duplicate it clusters with.
    minhash = models.BinaryField(null=True, blank=True, editable=False)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="near_duplicates"
    )
    # Pairwise items: which of the first two responses is longer (None if equal), for verbosity bias.
    longer_response = models.PositiveSmallIntegerField(null=True, blank=True)
    completed_count = models.PositiveSmallIntegerField(default=0)
    # Annotators wanted beyond the project's overlap ("send back to the pool with a higher overlap").
    extra_overlap = models.PositiveSmallIntegerField(default=0)
    # Slots still free: overlap plus extra_overlap, minus completed annotations, minus live leases.
    open_slots = models.PositiveSmallIntegerField()
    # Kept by the database so the pool index's condition matches the query's literally (SQLite needs that).
    in_pool = models.GeneratedField(
        expression=models.ExpressionWrapper(Q(open_slots__gt=0, is_gold=False), output_field=models.BooleanField()),
        output_field=models.BooleanField(),
        db_persist=True,
    )
    # Non-empty: an admin took the item out of every export, for this reason.
    excluded_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "content_hash"], name="item_unique_content"),
            models.CheckConstraint(condition=Q(kind__in=Kind.values), name="item_kind_valid"),
            models.CheckConstraint(
                condition=(Q(kind=Kind.REFUSAL) & Q(safety__in=Safety.values)) | (~Q(kind=Kind.REFUSAL) & Q(safety="")),
                name="item_safety_only_on_refusal",
            ),
            models.CheckConstraint(
                condition=Q(is_gold=True, gold__isnull=False) | Q(is_gold=False, gold__isnull=True),
                name="item_gold_flag_matches",
            ),
            models.CheckConstraint(condition=~Q(prompt="") | Q(messages__isnull=False), name="item_has_prompt"),
        ]
        indexes = [
            models.Index(
                F("project"), F("completed_count").desc(), F("id"), condition=Q(in_pool=True), name="item_pool"
            ),
            # The few open model_review items, apart: their pick must not walk the pool, nor every past comparison.
            models.Index(
                F("project"),
                F("completed_count").desc(),
                F("id"),
                condition=Q(in_pool=True, kind=Kind.MODEL_REVIEW),
                name="item_review_pool",
            ),
            models.Index(fields=["project", "id"], condition=Q(is_gold=True), name="item_gold"),
            models.Index(fields=["project", "kind", "task_type"], name="item_kind_type"),
            # The near-duplicate indexer reads what was signed past an id; the unsigned rows after it are most.
            models.Index(fields=["project", "id"], condition=Q(minhash__isnull=False), name="item_signed"),
        ]

    def __str__(self) -> str:
        return f"item {self.pk}"

    @property
    def last_user_turn(self) -> str:
        """The prompt, or the last user turn of a conversation: what a listing shows."""
        if not self.messages:
            return self.prompt
        return next((turn["content"] for turn in reversed(self.messages) if turn["role"] == "user"), "")


class AssignmentStatus(models.TextChoices):
    ACTIVE = "active"
    SUBMITTED = "submitted"
    SKIPPED = "skipped"
    EXPIRED = "expired"


class Assignment(models.Model):
    Status = AssignmentStatus

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assignments")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    expires_at = models.DateTimeField()
    skip_reason = models.CharField(max_length=500, blank=True)
    # For pairwise kinds: the canonical response indices in the order they were shown.
    response_order = models.JSONField(default=list, blank=True)
    # A self-consistency check: the same annotator's earlier assignment, shown again with the sides swapped.
    repeat_of = models.OneToOneField("self", null=True, blank=True, on_delete=models.CASCADE, related_name="repeat")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resumed = False  # not stored: set when assignment_next hands back a lapsed assignment for its draft

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "annotator"], condition=Q(repeat_of__isnull=True), name="assignment_once_per_annotator"
            ),
            models.CheckConstraint(condition=Q(status__in=AssignmentStatus.values), name="assignment_status_valid"),
        ]
        indexes = [
            models.Index(fields=["project", "status", "expires_at"], name="assignment_leases"),
            models.Index(fields=["annotator", "project", "status"], name="assignment_mine"),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk} ({self.status})"


class ReviewStatus(models.TextChoices):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Annotation(models.Model):
    ReviewStatus = ReviewStatus

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="annotations")
    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="annotation")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotations")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    payload = models.JSONField()
    client_id = models.UUIDField(unique=True, default=uuid.uuid4)
    time_spent_ms = models.PositiveIntegerField(null=True, blank=True)
    # Pairwise judgments on the first two responses, kept as columns so agreement is computed in one query:
    # +1..+3 prefers response 0 (slight, clear, strong), -1..-3 prefers response 1, 0 is a tie.
    preference_score = models.SmallIntegerField(null=True, blank=True)
    shown_first = models.PositiveSmallIntegerField(null=True, blank=True)
    # A repeat measures self-consistency only; it counts toward nothing else.
    is_repeat = models.BooleanField(default=False)
    # The annotator may edit their work until a reviewer decides it.
    review_status = models.CharField(max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.PENDING)
    guideline_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The project's guideline version when the annotation was submitted."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "annotator"], condition=Q(is_repeat=False), name="annotation_once_per_annotator"
            ),
            models.CheckConstraint(condition=Q(review_status__in=ReviewStatus.values), name="annotation_review_valid"),
            models.CheckConstraint(
                condition=Q(preference_score__isnull=True) | Q(preference_score__gte=-3, preference_score__lte=3),
                name="annotation_score_range",
            ),
            models.CheckConstraint(condition=Q(kind__in=Kind.values), name="annotation_kind_valid"),
        ]
        indexes = [
            models.Index(fields=["project", "annotator", "id"], name="annotation_by_annotator"),
            models.Index(fields=["project", "review_status", "kind"], name="annotation_by_review"),
            models.Index(fields=["project", "updated_at"], name="annotation_by_change"),
            models.Index(fields=["project", "created_at"], name="annotation_by_time"),
            models.Index(
                fields=["project", "id"],
                condition=Q(review_status="pending", kind="refusal", payload__disagree=True),
                name="annotation_flagged_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"annotation {self.pk}"

    @property
    def latest_review(self):
        """The last decision on this annotation (uses prefetched reviews when there are some)."""
        reviews = list(self.reviews.all())
        return reviews[-1] if reviews else None


class Draft(models.Model):
    """Unsubmitted work on an assignment, saved as the annotator types."""

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="draft")
    payload = models.JSONField()
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"draft v{self.version} of assignment {self.assignment_id}"


class RejectReason(models.TextChoices):
    FACTUAL_ERROR = "factual_error", "Factual error"
    UNHELPFUL = "unhelpful", "Unhelpful or incomplete"
    UNSAFE = "unsafe", "Unsafe content"
    WRONG_REFUSAL = "wrong_refusal_decision", "Wrong refuse/answer decision"
    OFF_GUIDELINES = "off_guidelines", "Does not follow the guidelines"
    LOW_EFFORT = "low_effort", "Low effort or copied"
    FORMATTING = "formatting", "Formatting or language"
    OTHER = "other", "Other"


class Review(models.Model):
    """A reviewer's decision on an annotation; an edit keeps the payload before and after."""

    class Decision(models.TextChoices):
        ACCEPT = "accept"
        REJECT = "reject"
        EDIT_ACCEPT = "edit_accept"

    annotation = models.ForeignKey("Annotation", on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    reason = models.CharField(max_length=32, choices=RejectReason.choices, blank=True)
    note = models.TextField(blank=True)
    payload_before = models.JSONField()
    payload_after = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(decision="reject") | ~Q(reason=""), name="review_reject_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.decision} of annotation {self.annotation_id}"


class Adjudication(models.Model):
    """The final label of a disputed pairwise item, set by a reviewer who saw every judgment."""

    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="adjudication")
    choice = models.JSONField(help_text="A response index or 'tie'.")
    strength = models.CharField(max_length=16, blank=True)
    rationale = models.TextField(blank=True)
    adjudicator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"adjudication of item {self.item_id}"


class AuthorDraft(models.Model):
    """An unsaved new item the annotator is writing, one per user, project and authoring mode."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    mode = models.CharField(max_length=20)
    payload = models.JSONField()
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user", "mode"], name="author_draft_unique")]

    def __str__(self) -> str:
        return f"{self.mode} draft of {self.user_id}"


class Document(models.Model):
    """A domain document an admin imported, split into passages that ground authored items."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=200)
    domain = models.CharField(max_length=100)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title


class Passage(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="passages")
    position = models.PositiveIntegerField()
    text = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["document", "position"], name="passage_position_unique")]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.position}"


class ItemTag(models.Model):
    """A label on an item (e.g. edge_case, rare, a domain scenario) that evaluation reports on by itself, so the tail
    is never averaged away. The rule for a tag's text is annotation.tags.clean_tags."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "name"], name="item_tag_unique")]
        indexes = [models.Index(fields=["name", "item"], name="item_tag_name")]

    def __str__(self) -> str:
        return self.name


class Paraphrase(models.Model):
    """Another wording of an item's instruction; the item and its paraphrases form a paraphrase group."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="paraphrases")
    text = models.TextField()
    text_hash = models.CharField(max_length=64)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "text_hash"], name="paraphrase_unique")]

    def __str__(self) -> str:
        return f"paraphrase of {self.item_id}"


class AnnotationEdit(models.Model):
    """An annotator's own change to their annotation before review: the payload before and after."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="edits")
    editor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    payload_before = models.JSONField()
    payload_after = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"edit of annotation {self.annotation_id}"


class GuidelineVersion(models.Model):
    """One saved version of a project's guidelines; Project.guidelines holds the latest text."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="guideline_versions")
    number = models.PositiveIntegerField()
    text = models.TextField(blank=True)
    note = models.CharField(max_length=500, blank=True, help_text="What changed, in the author's words.")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "number"], name="guideline_version_unique")]

    def __str__(self) -> str:
        return f"guidelines v{self.number} of {self.project_id}"


class Invite(models.Model):
    """A one-time sign-up link into a project; only the SHA-256 of its token is stored."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invites")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    email = models.EmailField(blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(role__in=Role.values), name="invite_role_valid")]

    def __str__(self) -> str:
        return f"invite to {self.project_id} as {self.role}"


class Comment(models.Model):
    """A note on an item from anyone working on it ("the passage is truncated"), open until an admin resolves it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="comments")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["project", "id"], condition=Q(resolved_at__isnull=True), name="comment_open"),
            models.Index(fields=["item", "id"], name="comment_by_item"),
        ]

    def __str__(self) -> str:
        return f"comment {self.pk} on item {self.item_id}"


class ApiToken(models.Model):
    """A named API token of one user; only the SHA-256 of the key is stored, the key is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="The key's first characters, to tell tokens apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token {self.prefix}… of {self.user_id}"


class AuditEvent(models.Model):
    """Who changed what, when, from what to what (written by annotation.audit.audit_record)."""

    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    project_slug = models.CharField(max_length=100, blank=True, help_text="Kept when the project is deleted.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True, help_text="Kept when the user is deleted.")
    action = models.CharField(max_length=40)
    target = models.CharField(max_length=200, blank=True, help_text="What was changed, e.g. 'item 12' or 'ann1'.")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["project", "-id"], name="audit_by_project"),
            models.Index(fields=["project", "action", "-id"], name="audit_by_action"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.target}"


class ImportStatus(models.TextChoices):
    CHECKING = "checking"
    CHECKED = "checked"
    INVALID = "invalid"
    IMPORTING = "importing"
    DONE = "done"
    FAILED = "failed"


class ItemImportJob(models.Model):
    """A JSONL upload checked (a dry run), then imported in the background, with its progress and report."""

    Status = ImportStatus

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    upload = models.FileField(upload_to="imports/")
    filename = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=ImportStatus.choices, default=ImportStatus.CHECKING)
    progress = models.FloatField(default=0.0)
    report = models.JSONField(default=dict, blank=True, help_text="The dry run: counts, duplicates, bad lines.")
    created_count = models.PositiveIntegerField(default=0)
    created_ids = models.FileField(upload_to="imports/", blank=True, help_text="JSONL: line, id and meta per item.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ImportStatus.values), name="import_job_status_valid")
        ]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status})"
