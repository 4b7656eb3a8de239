from rest_framework import serializers

from annotation.models import Item, Membership, Project
from annotation.taxonomy import Kind

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
]


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.CharField(read_only=True, default=None)

    class Meta:
        model = Project
        fields = [*PROJECT_FIELDS, "created_at", "role"]


class ProjectCreateSerializer(serializers.ModelSerializer):
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=Kind.values), min_length=1, required=False)
    task_types = serializers.ListField(child=serializers.SlugField(max_length=100), min_length=1, required=False)
    task_type_mix = serializers.DictField(child=serializers.FloatField(min_value=0, max_value=1), required=False)
    overlap = serializers.IntegerField(min_value=1, max_value=50, required=False)
    gold_rate = serializers.FloatField(min_value=0, max_value=1, required=False)
    repeat_rate = serializers.FloatField(min_value=0, max_value=0.5, required=False)
    model_review_share = serializers.FloatField(min_value=0, max_value=1, required=False)
    lease_seconds = serializers.IntegerField(min_value=30, max_value=7 * 24 * 3600, required=False)

    class Meta:
        model = Project
        fields = PROJECT_FIELDS

    def validate(self, attrs):
        task_types = attrs.get("task_types") or Project._meta.get_field("task_types").get_default()
        mix = attrs.get("task_type_mix", {})
        unknown = sorted(set(mix) - set(task_types))
        if unknown:
            raise serializers.ValidationError({"task_type_mix": f"unknown task type(s): {', '.join(unknown)}"})
        if sum(mix.values()) > 1.0001:
            raise serializers.ValidationError({"task_type_mix": "shares add up to more than 1"})
        return attrs


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


class ItemSerializer(serializers.ModelSerializer):
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


class ImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    by_kind = serializers.DictField(child=serializers.IntegerField())


class ItemFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Kind.values, required=False)
    task_type = serializers.CharField(max_length=100, required=False)


class AnnotationFilterSerializer(serializers.Serializer):
    """The only filters the annotation list accepts; anything else is refused, never passed to the ORM."""

    kind = serializers.ChoiceField(choices=Kind.values, required=False)
    annotator = serializers.CharField(max_length=150, required=False)
    item = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
