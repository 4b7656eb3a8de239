"""Snapshots over the REST API: list and create per project, read one, download its files."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from annotation.api.schema import SIGNED_IN, with_errors
from annotation.selectors import STAFF_ROLES, membership_for
from annotation.taxonomy import Role
from training.liveness import stale_work_fail
from training.models import Snapshot
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
