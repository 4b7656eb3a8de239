"""Snapshots over the REST API: list and create per project, read one, download its files."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from annotation.selectors import STAFF_ROLES, membership_for
from annotation.taxonomy import Role
from training.liveness import stale_work_fail
from training.models import Snapshot
from training.snapshots.service import snapshot_create
from training.views import download


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

    @extend_schema(operation_id="snapshots_list", responses=SnapshotSerializer(many=True))
    def get(self, request, slug):
        project = membership_for(request.user, slug, *STAFF_ROLES).project
        stale_work_fail()
        found = project.snapshots.select_related("project").order_by("-version")
        return Response(SnapshotSerializer(found, many=True).data)

    @extend_schema(
        request={"application/json": {"type": "object", "description": "Snapshot options (README)."}},
        responses={202: SnapshotSerializer},
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

    def get(self, request, pk):
        found = _snapshot_for(request, pk)
        stale_work_fail()
        found.refresh_from_db()
        return Response(SnapshotSerializer(found).data)


class SnapshotFile(generics.GenericAPIView):
    @extend_schema(responses={200: OpenApiResponse(description="The file, as an attachment.")})
    def get(self, request, pk, name):
        return download(_snapshot_for(request, pk), name)
