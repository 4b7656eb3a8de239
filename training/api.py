"""Snapshots over the REST API: list and create per project, read one, download its files. Training runs: list per
project, read one, cancel one. Model versions: list per project with their decisions, read one, promote or reject."""

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from annotation.api.schema import SIGNED_IN, with_errors
from annotation.selectors import STAFF_ROLES, membership_for
from annotation.taxonomy import Role
from training.liveness import stale_work_fail
from training.models import ModelDecision, ModelVersion, Snapshot, TrainingRun
from training.promotion import model_promote, model_reject
from training.run_cancel import training_run_cancel
from training.snapshots.service import snapshot_create
from training.views import SAFE_TYPES, download


class SnapshotSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.slug", read_only=True)

    class Meta:
        model = Snapshot
        fields = [
            "id",
            "project",
            "version",
            "status",
            "progress",
            "stage",
            "config",
            "counts",
            "content_hash",
            "files",
            "code_version",
            "error",
            "created_at",
            "finished_at",
        ]


class SnapshotList(generics.GenericAPIView):
    serializer_class = SnapshotSerializer

    @extend_schema(
        operation_id="snapshots_list", responses=with_errors({200: SnapshotSerializer(many=True)}, *SIGNED_IN, 403)
    )
    def get(self, request, slug):
        project = membership_for(request.user, slug, *STAFF_ROLES).project
        stale_work_fail()
        found = project.snapshots.select_related("project").order_by("-version")
        return Response(SnapshotSerializer(found, many=True).data)

    @extend_schema(
        request={"application/json": {"type": "object", "description": "Snapshot options (README)."}},
        responses=with_errors({202: SnapshotSerializer}, *SIGNED_IN, 403, 409),
    )
    def post(self, request, slug):
        project = membership_for(request.user, slug, Role.ADMIN).project
        created = snapshot_create(project=project, user=request.user, config=request.data)
        return Response(SnapshotSerializer(created).data, status=status.HTTP_202_ACCEPTED)


def _snapshot_for(request, pk) -> Snapshot:
    found = get_object_or_404(Snapshot.objects.select_related("project"), id=pk)
    membership_for(request.user, found.project.slug, *STAFF_ROLES)
    return found


class SnapshotDetail(generics.GenericAPIView):
    serializer_class = SnapshotSerializer

    @extend_schema(responses=with_errors({200: SnapshotSerializer}, *SIGNED_IN, 403))
    def get(self, request, pk):
        found = _snapshot_for(request, pk)
        stale_work_fail()
        found.refresh_from_db()
        return Response(SnapshotSerializer(found).data)


class SnapshotFile(generics.GenericAPIView):
    @extend_schema(
        responses=with_errors(
            {
                (200, media_type): OpenApiResponse(
                    OpenApiTypes.ANY if media_type == "application/json" else OpenApiTypes.BINARY,
                    description="The file, as an attachment.",
                )
                for media_type in [*SAFE_TYPES.values(), "application/vnd.apache.parquet", "application/octet-stream"]
            },
            *SIGNED_IN,
            403,
        )
    )
    def get(self, request, pk, name):
        return download(_snapshot_for(request, pk), name)


class TrainingRunSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="snapshot.project.slug", read_only=True)
    snapshot_version = serializers.IntegerField(source="snapshot.version", read_only=True)
    parent_model = serializers.CharField(source="parent_model.name", default=None, allow_null=True, read_only=True)
    cancel_requested_by = serializers.CharField(
        source="cancel_requested_by.username", default=None, allow_null=True, read_only=True
    )

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "project",
            "snapshot",
            "snapshot_version",
            "parent_model",
            "status",
            "config_yaml",
            "log_tail",
            "metrics",
            "exit_code",
            "created_at",
            "started_at",
            "finished_at",
            "cancel_requested_at",
            "cancel_requested_by",
        ]


RUN_RELATED = ("snapshot__project", "parent_model", "cancel_requested_by")


class TrainingRunList(generics.GenericAPIView):
    serializer_class = TrainingRunSerializer

    @extend_schema(
        operation_id="runs_list", responses=with_errors({200: TrainingRunSerializer(many=True)}, *SIGNED_IN, 403)
    )
    def get(self, request, slug):
        project = membership_for(request.user, slug, *STAFF_ROLES).project
        stale_work_fail()
        found = TrainingRun.objects.filter(snapshot__project=project).select_related(*RUN_RELATED).order_by("-id")
        return Response(TrainingRunSerializer(found, many=True).data)


def _run_for(request, pk, *roles) -> TrainingRun:
    found = get_object_or_404(TrainingRun.objects.select_related(*RUN_RELATED), id=pk)
    membership_for(request.user, found.snapshot.project.slug, *roles)
    return found


class TrainingRunDetail(generics.GenericAPIView):
    serializer_class = TrainingRunSerializer

    @extend_schema(responses=with_errors({200: TrainingRunSerializer}, *SIGNED_IN, 403))
    def get(self, request, pk):
        found = _run_for(request, pk, *STAFF_ROLES)
        stale_work_fail()
        found.refresh_from_db()
        return Response(TrainingRunSerializer(found).data)


class TrainingRunCancel(generics.GenericAPIView):
    serializer_class = TrainingRunSerializer

    @extend_schema(
        request=None,
        responses=with_errors({200: TrainingRunSerializer, 202: TrainingRunSerializer}, *SIGNED_IN, 403, 409),
        description="A queued run is cancelled at once (200); a running one is stopped by its worker within a few "
        "seconds (202: poll the run until it is `cancelled`). Project admins only.",
    )
    def post(self, request, pk):
        found = _run_for(request, pk, Role.ADMIN)
        cancelled = training_run_cancel(run=found, user=request.user)
        done = cancelled.status == TrainingRun.Status.CANCELLED
        return Response(
            TrainingRunSerializer(cancelled).data, status=status.HTTP_200_OK if done else status.HTTP_202_ACCEPTED
        )


class ModelDecisionSerializer(serializers.ModelSerializer):
    decided_by = serializers.CharField(source="decided_by.username", default=None, allow_null=True, read_only=True)

    class Meta:
        model = ModelDecision
        fields = ["decision", "reason", "decided_by", "decided_at", "automatic"]


class ModelVersionSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.slug", read_only=True)
    parent = serializers.CharField(source="parent.name", default=None, allow_null=True, read_only=True)
    snapshot_version = serializers.IntegerField(source="snapshot.version", read_only=True)
    decisions = ModelDecisionSerializer(many=True, read_only=True, help_text="Oldest first.")

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "project",
            "name",
            "status",
            "parent",
            "snapshot",
            "snapshot_version",
            "run",
            "metrics",
            "created_at",
            "decisions",
        ]


class PromoteSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


def model_versions() -> QuerySet[ModelVersion]:
    """Model versions with what their pages and the API show: project, parent, snapshot, run and decisions."""
    decisions = Prefetch("decisions", ModelDecision.objects.select_related("decided_by").order_by("id"))
    return ModelVersion.objects.select_related("project", "parent", "snapshot", "run").prefetch_related(decisions)


class ModelVersionList(generics.GenericAPIView):
    serializer_class = ModelVersionSerializer

    @extend_schema(
        operation_id="models_list", responses=with_errors({200: ModelVersionSerializer(many=True)}, *SIGNED_IN, 403)
    )
    def get(self, request, slug):
        project = membership_for(request.user, slug, *STAFF_ROLES).project
        return Response(
            ModelVersionSerializer(model_versions().filter(project=project).order_by("-id"), many=True).data
        )


def _version_for(request, pk, *roles) -> ModelVersion:
    found = get_object_or_404(model_versions(), id=pk)
    membership_for(request.user, found.project.slug, *roles)
    return found


def _fresh(version: ModelVersion) -> dict:
    return ModelVersionSerializer(model_versions().get(id=version.id)).data


class ModelVersionDetail(generics.GenericAPIView):
    serializer_class = ModelVersionSerializer

    @extend_schema(responses=with_errors({200: ModelVersionSerializer}, *SIGNED_IN, 403))
    def get(self, request, pk):
        return Response(ModelVersionSerializer(_version_for(request, pk, *STAFF_ROLES)).data)


class ModelVersionPromote(generics.GenericAPIView):
    serializer_class = PromoteSerializer

    @extend_schema(
        request=PromoteSerializer,
        responses=with_errors({200: ModelVersionSerializer}, *SIGNED_IN, 403, 409),
        description="Make this version the project's champion; the current champion is retired. A retired former "
        "champion may be promoted again (a rollback); a rejected one may not. Project admins only.",
    )
    def post(self, request, pk):
        found = _version_for(request, pk, Role.ADMIN)
        given = PromoteSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        model_promote(version=found, user=request.user, reason=given.validated_data["reason"])
        return Response(_fresh(found))


class ModelVersionReject(generics.GenericAPIView):
    serializer_class = RejectSerializer

    @extend_schema(
        request=RejectSerializer,
        responses=with_errors({200: ModelVersionSerializer}, *SIGNED_IN, 403, 409),
        description="Reject a candidate for good, with a reason; it can no longer be promoted. Project admins only.",
    )
    def post(self, request, pk):
        found = _version_for(request, pk, Role.ADMIN)
        given = RejectSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        model_reject(version=found, user=request.user, reason=given.validated_data["reason"])
        return Response(_fresh(found))
