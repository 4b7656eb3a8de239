from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotation import data_browser as browse
from annotation.api_tokens import MAX_NAME as MAX_TOKEN_NAME
from annotation.audit import Action
from annotation.errors import InvalidInput
from annotation.import_jobs import job_report
from annotation.invites import MAX_DAYS as MAX_INVITE_DAYS
from annotation.models import ApiToken, Document, Invite, Item, ItemImportJob, Membership, Passage, Project
from annotation.project_settings import settings_check
from annotation.tags import MAX_TAG_CHARS, clean_tag
from annotation.taxonomy import Kind, Role

MAX_ID = 2**63 - 1  # the largest BigAutoField value; a larger filter overflows SQLite (500)

PROJECT_FIELDS = [
    "name",
    "slug",
    "guidelines",
    "kinds",
    "task_types",
    "task_type_mix",
    "overlap",
    "gold_rate",
    "repeat_rate",
    "lease_seconds",
    "require_rationale",
    "model_review_share",
    "require_review",
    "prioritise_coverage",
    "queue_choice",
    "harm_categories",
    "system_prompt",
]


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.CharField(read_only=True, default=None)

    class Meta:
        model = Project
        fields = [*PROJECT_FIELDS, "created_at", "role", "archived_at", "guidelines_version"]
        read_only_fields = ["archived_at", "guidelines_version"]


class ProjectCreateSerializer(serializers.ModelSerializer):
    """JSON types here; every range and cross-field rule is annotation.project_settings.settings_check's, the same
    the settings page and PATCH go through."""

    kinds = serializers.ListField(child=serializers.CharField(), required=False)
    task_types = serializers.ListField(child=serializers.CharField(), required=False)
    task_type_mix = serializers.DictField(child=serializers.FloatField(), required=False)
    overlap = serializers.IntegerField(required=False)
    gold_rate = serializers.FloatField(required=False)
    repeat_rate = serializers.FloatField(required=False)
    model_review_share = serializers.FloatField(required=False)
    lease_seconds = serializers.IntegerField(required=False)
    harm_categories = serializers.ListField(child=serializers.CharField(), required=False)
    system_prompt = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)

    class Meta:
        model = Project
        fields = PROJECT_FIELDS

    def validate(self, attrs):
        current = self.instance or Project()
        settings = {name: value for name, value in attrs.items() if name not in ("slug", "guidelines")}
        try:
            settings_check(settings, current=current)
        except InvalidInput as exc:
            errors = {e["field"]: e["message"] for e in exc.errors} or {exc.field or "non_field_errors": exc.message}
            raise serializers.ValidationError(errors) from exc
        return attrs


class AssignmentQueueSerializer(serializers.Serializer):
    """The queue a next assignment comes from, where the project lets annotators choose (queue_choice): one kind or
    one task type; neither means all work."""

    kind = serializers.CharField(required=False, max_length=100, help_text="Only this kind of work.")
    task_type = serializers.CharField(required=False, max_length=100, help_text="Only this task type.")


class ProjectStatsSerializer(ProjectSerializer):
    item_count = serializers.IntegerField(read_only=True)
    items_complete = serializers.IntegerField(read_only=True)
    my_annotations = serializers.IntegerField(read_only=True)

    class Meta(ProjectSerializer.Meta):
        fields = [*ProjectSerializer.Meta.fields, "item_count", "items_complete", "my_annotations"]


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    role = serializers.CharField()

    class Meta:
        model = Membership
        fields = ["username", "role"]


class TagField(serializers.CharField):
    """One tag by annotation.tags.clean_tag (stripped and lower-cased)."""

    def __init__(self, **kwargs):
        super().__init__(max_length=MAX_TAG_CHARS, **kwargs)

    def to_internal_value(self, data):
        try:
            return clean_tag(super().to_internal_value(data))
        except InvalidInput as exc:
            raise serializers.ValidationError(exc.message) from exc


class ItemSerializer(serializers.ModelSerializer):
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = Item
        fields = [
            "id",
            "kind",
            "prompt",
            "messages",
            "task_type",
            "domain",
            "safety",
            "harm_category",
            "responses",
            "gold",
            "meta",
            "tags",
            "content_hash",
            "completed_count",
            "created_at",
        ]


class ShownResponseSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        help_text="Use this id in `choice` (two responses) or `ranking` (three or more) when submitting."
    )
    text = serializers.CharField()


class TaskItemSerializer(serializers.Serializer):
    """An item as an annotator sees it: no gold, no sources, responses in this assignment's order.

    Plain serializers on the hot path: a ModelSerializer re-derives its fields from the model on every use.
    """

    id = serializers.IntegerField()
    kind = serializers.CharField()
    prompt = serializers.CharField()
    messages = serializers.JSONField()
    task_type = serializers.CharField()
    domain = serializers.CharField()
    safety = serializers.CharField()
    harm_category = serializers.CharField()
    responses = serializers.SerializerMethodField()

    def get_responses(self, item) -> list[dict]:
        shown = ShownResponseSerializer(
            [{"id": i, "text": item.responses[i]["text"]} for i in self.context["response_order"]], many=True
        )
        return shown.data


class DraftSerializer(serializers.Serializer):
    payload = serializers.JSONField()
    version = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="null while there is no draft")


class AssignmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField(source="project.slug")
    status = serializers.CharField()
    expires_at = serializers.DateTimeField()
    item = serializers.SerializerMethodField()
    draft = serializers.SerializerMethodField()

    def get_item(self, assignment) -> dict:
        return TaskItemSerializer(assignment.item, context={"response_order": assignment.response_order}).data

    def get_draft(self, assignment) -> dict | None:
        draft = getattr(assignment, "draft", None)
        return DraftSerializer(draft).data if draft else None


class SubmitSerializer(serializers.Serializer):
    client_id = serializers.UUIDField(help_text="A UUID the client makes once per submission; retries reuse it.")
    payload = serializers.JSONField(help_text="The kind's payload (README: 'Annotation payloads').")
    time_spent_ms = serializers.IntegerField(required=False, allow_null=True)


class SkipSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class AnnotationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    item = serializers.IntegerField(source="item_id")
    assignment = serializers.IntegerField(source="assignment_id")
    annotator = serializers.CharField(source="annotator.username")
    kind = serializers.CharField()
    payload = serializers.JSONField()
    response_order = serializers.JSONField(source="assignment.response_order")
    client_id = serializers.UUIDField()
    time_spent_ms = serializers.IntegerField(allow_null=True)
    is_repeat = serializers.BooleanField(help_text="A self-consistency repeat: excluded from agreement and exports.")
    review_status = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ImportedItemSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="The item's line in the file (1-based).")
    id = serializers.IntegerField()
    meta = serializers.DictField(help_text="The line's `meta`, echoed so a client can map its own ids.")


class ImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    by_kind = serializers.DictField(child=serializers.IntegerField())
    items = ImportedItemSerializer(many=True)


class ItemFilterSerializer(serializers.Serializer):
    """The data browser's filters (annotation.data_browser.items_browse); anything else is refused."""

    kind = serializers.ChoiceField(choices=Kind.values, required=False)
    task_type = serializers.CharField(max_length=100, required=False)
    domain = serializers.CharField(max_length=100, required=False)
    tag = TagField(required=False, help_text="Items carrying this tag.")
    status = serializers.ChoiceField(choices=browse.STATUSES, required=False)
    annotator = serializers.CharField(max_length=150, required=False, help_text="Items this user annotated.")
    agreement = serializers.ChoiceField(
        choices=browse.AGREEMENTS,
        required=False,
        help_text="Pairwise items by their A/B judgments: single (one), unanimous (2+ on one side), split.",
    )
    review_status = serializers.ChoiceField(
        choices=browse.REVIEW_STATUSES, required=False, help_text="Items with written work in this review state."
    )
    gold = serializers.BooleanField(required=False, allow_null=True, default=None)
    created_from = serializers.DateField(required=False)
    created_to = serializers.DateField(required=False)
    q = serializers.CharField(
        min_length=browse.MIN_SEARCH_CHARS,
        max_length=200,
        required=False,
        help_text="Search in the prompt, the responses and the annotated responses (any case).",
    )


class AnnotationFilterSerializer(serializers.Serializer):
    """The only filters the annotation list accepts; anything else is refused, never passed to the ORM."""

    kind = serializers.ChoiceField(choices=Kind.values, required=False)
    annotator = serializers.CharField(max_length=150, required=False)
    item = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


class ProjectUpdateSerializer(ProjectCreateSerializer):
    """A PATCH of a project's settings: any of them; the slug and the guidelines (versioned: POST them to
    /guidelines/) do not change here."""

    class Meta(ProjectCreateSerializer.Meta):
        fields = [name for name in PROJECT_FIELDS if name not in ("slug", "guidelines")]


class ProjectDeleteSerializer(serializers.Serializer):
    confirm = serializers.CharField(help_text="The project's name (or slug), exactly: deleting cannot be undone.")


class GuidelinesSerializer(serializers.Serializer):
    text = serializers.CharField(allow_blank=True, trim_whitespace=False)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    version = serializers.IntegerField(read_only=True)


class AuditEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.CharField()
    actor = serializers.CharField(source="actor_name")
    target = serializers.CharField()
    before = serializers.JSONField()
    after = serializers.JSONField()
    created_at = serializers.DateTimeField()


class AuditFilterSerializer(serializers.Serializer):
    """The audit log's only filters; anything else is refused."""

    action = serializers.ChoiceField(choices=Action.values, required=False)
    actor = serializers.CharField(max_length=150, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


class UserCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, write_only=True, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True)


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InviteCreateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, default=Role.ANNOTATOR)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    days = serializers.IntegerField(min_value=1, max_value=MAX_INVITE_DAYS, default=7)


class InviteSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)

    class Meta:
        model = Invite
        fields = ["id", "role", "email", "created_by", "created_at", "expires_at"]


class InviteCreatedSerializer(InviteSerializer):
    link = serializers.CharField(read_only=True, help_text="The one-time sign-up link; shown only in this answer.")
    mailed = serializers.BooleanField(read_only=True, help_text="Whether the link was mailed to `email`.")

    class Meta(InviteSerializer.Meta):
        fields = [*InviteSerializer.Meta.fields, "link", "mailed"]


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=MAX_TOKEN_NAME)


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at"]


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="The key, shown only in this answer: keep it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]


class ItemExportQuerySerializer(ItemFilterSerializer):
    format = serializers.ChoiceField(choices=["jsonl", "csv"], help_text="jsonl: the import format; csv: main columns.")


class ItemBulkSerializer(serializers.Serializer):
    """One bulk action on the listed items, or on every item matching `filter` (give exactly one of the two)."""

    action = serializers.ChoiceField(
        choices=["requeue", "gold_set", "gold_clear", "exclude", "include", "tag_add", "tag_remove"]
    )
    item_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, max_length=100_000
    )
    filter = ItemFilterSerializer(required=False)
    extra = serializers.IntegerField(
        min_value=1, max_value=50, required=False, help_text="requeue: more annotators per item."
    )
    reason = serializers.CharField(max_length=500, required=False, help_text="exclude: why (required).")
    tag = TagField(required=False, help_text="tag_add, tag_remove: the tag (required).")

    def validate(self, attrs):
        if ("item_ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError({"item_ids": "give exactly one of item_ids or filter"})
        raw = self.initial_data.get("filter")
        if isinstance(raw, dict) and (unknown := sorted(set(raw) - set(ItemFilterSerializer().fields))):
            raise serializers.ValidationError({"filter": f"unknown filter {unknown[0]!r}"})
        if attrs["action"] == "requeue" and "extra" not in attrs:
            raise serializers.ValidationError({"extra": "requeue needs extra: how many more annotators per item"})
        if attrs["action"] == "exclude" and not attrs.get("reason", "").strip():
            raise serializers.ValidationError({"reason": "exclude needs a reason"})
        if attrs["action"] in ("tag_add", "tag_remove") and "tag" not in attrs:
            raise serializers.ValidationError({"tag": f"{attrs['action']} needs a tag"})
        return attrs


class ItemBulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    items = serializers.IntegerField(help_text="How many items the action was applied to.")
    changed = serializers.IntegerField()
    refused = serializers.DictField(child=serializers.CharField(), help_text="gold_set: item id -> why not.")


class CommentSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    item = serializers.IntegerField(source="item_id", min_value=1, max_value=MAX_ID)
    author = serializers.CharField(source="author.username", read_only=True, default=None, allow_null=True)
    text = serializers.CharField(max_length=2000)
    created_at = serializers.DateTimeField(read_only=True)
    resolved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    resolved_by = serializers.CharField(source="resolved_by.username", read_only=True, default=None, allow_null=True)


class CommentFilterSerializer(serializers.Serializer):
    item = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    resolved = serializers.BooleanField(required=False, allow_null=True, default=None)


class ImportQuerySerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(required=False, default=False, help_text="Report only; write nothing.")


class ImportDuplicateSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    of_line = serializers.IntegerField(required=False, help_text="The earlier line of the file it repeats.")
    existing_item = serializers.IntegerField(required=False, help_text="The project's item it repeats.")


class ImportLineErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    field = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="Whether the import would go through.")
    total_lines = serializers.IntegerField()
    valid = serializers.IntegerField(help_text="Lines that would become items.")
    by_kind = serializers.DictField(child=serializers.IntegerField())
    by_task_type = serializers.DictField(child=serializers.IntegerField(), help_text="'' for no task type.")
    duplicate_lines = serializers.IntegerField()
    duplicates = ImportDuplicateSerializer(many=True, help_text="The first 1000.")
    bad_lines = serializers.IntegerField()
    errors = ImportLineErrorSerializer(many=True, help_text="The first 1000 problems, by line.")


class ImportJobSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.slug", read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    report = serializers.SerializerMethodField()
    phase = serializers.SerializerMethodField()
    created_ids_url = serializers.SerializerMethodField()

    class Meta:
        model = ItemImportJob
        fields = [
            "id",
            "project",
            "filename",
            "status",
            "progress",
            "phase",
            "report",
            "created_count",
            "created_ids_url",
            "error",
            "created_by",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(ImportReportSerializer(allow_null=True))
    def get_report(self, job) -> dict | None:
        return job_report(job)

    def get_phase(self, job) -> str:
        return job.report.get("phase", "")

    def get_created_ids_url(self, job) -> str | None:
        return f"/api/v1/imports/{job.id}/created/" if job.created_ids else None


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The JSONL file.")


class DocumentFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, max_length=200, help_text="Words in the title or a passage.")


class DocumentSerializer(serializers.ModelSerializer):
    passages = serializers.IntegerField(source="passage_count", read_only=True)

    class Meta:
        model = Document
        fields = ["id", "title", "domain", "passages", "created_at"]


class DocumentCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    domain = serializers.CharField(max_length=100)
    text = serializers.CharField(trim_whitespace=False)


class PassageSerializer(serializers.ModelSerializer):
    cited_by = serializers.ListField(child=serializers.IntegerField(), read_only=True, help_text="Item ids.")

    class Meta:
        model = Passage
        fields = ["id", "position", "text", "cited_by"]


class DocumentDetailSerializer(serializers.ModelSerializer):
    passages = PassageSerializer(many=True, read_only=True, source="passage_list")

    class Meta:
        model = Document
        fields = ["id", "title", "domain", "created_at", "passages"]
