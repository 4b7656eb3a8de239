"""Cycles over the REST API: list and start per project, read one, cancel, retry. The project's loop settings
(schedule, run config, promotion policy): read and replace. Admins act; reviewers read."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from annotation.api.schema import SIGNED_IN, with_errors
from annotation.selectors import STAFF_ROLES, membership_for
from annotation.taxonomy import Role
from training.cycle_views import CYCLE_RELATED
from training.cycles import cycle_cancel, cycle_retry, cycle_start
from training.decisions import cycle_decide
from training.liveness import stale_work_fail
from training.models import Cycle, Schedule
from training.schedules import schedule_for, schedule_update


class CycleSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.slug", read_only=True)
    trigger = serializers.CharField(source="config.trigger", read_only=True)
    snapshot_version = serializers.IntegerField(
        source="snapshot.version", default=None, allow_null=True, read_only=True
    )
    candidate = serializers.CharField(source="candidate.name", default=None, allow_null=True, read_only=True)
    champion = serializers.CharField(source="champion.name", default=None, allow_null=True, read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True, read_only=True)
    cancel_requested_by = serializers.CharField(
        source="cancel_requested_by.username", default=None, allow_null=True, read_only=True
    )

    class Meta:
        model = Cycle
        fields = [
            "id",
            "project",
            "status",
            "step",
            "steps",
            "trigger",
            "config",
            "snapshot",
            "snapshot_version",
            "run",
            "candidate",
            "champion",
            "results",
            "log",
            "created_by",
            "created_at",
            "updated_at",
            "finished_at",
            "cancel_requested_by",
        ]


class CycleStartSerializer(serializers.Serializer):
    snapshot_config = serializers.JSONField(
        required=False, help_text="Snapshot options (README); default: the project's loop settings."
    )
    run_config_yaml = serializers.CharField(
        required=False, trim_whitespace=False, max_length=100_000, help_text="Default: the loop settings' run config."
    )
    policy = serializers.JSONField(
        required=False, help_text="Promotion policy settings over the defaults; default: the loop settings' policy."
    )


class CycleRetrySerializer(serializers.Serializer):
    run_config_yaml = serializers.CharField(
        required=False, trim_whitespace=False, max_length=100_000, help_text="A corrected run config (optional)."
    )


class CycleList(generics.GenericAPIView):
    serializer_class = CycleSerializer

    @extend_schema(
        operation_id="cycles_list", responses=with_errors({200: CycleSerializer(many=True)}, *SIGNED_IN, 403)
    )
    def get(self, request, slug):
        project = membership_for(request.user, slug, *STAFF_ROLES).project
        stale_work_fail()
        found = Cycle.objects.filter(project=project).select_related("project", *CYCLE_RELATED).order_by("-id")
        return Response(CycleSerializer(found, many=True).data)

    @extend_schema(
        request=CycleStartSerializer,
        responses=with_errors({202: CycleSerializer}, *SIGNED_IN, 403, 409),
        description="Start a cycle; settings not given come from the project's loop settings. 409 while another "
        "cycle of the project is active; 400 (field `run_config_yaml`) when there is no run config. Project admins "
        "only.",
    )
    def post(self, request, slug):
        project = membership_for(request.user, slug, Role.ADMIN).project
        given = CycleStartSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        started = cycle_start(project=project, user=request.user, **given.validated_data)
        return Response(CycleSerializer(started).data, status=status.HTTP_202_ACCEPTED)


def _cycle_for(request, pk, *roles) -> Cycle:
    found = get_object_or_404(Cycle.objects.select_related("project", *CYCLE_RELATED), id=pk)
    membership_for(request.user, found.project.slug, *roles)
    return found


class CycleDetail(generics.GenericAPIView):
    serializer_class = CycleSerializer

    @extend_schema(
        responses=with_errors({200: CycleSerializer}, *SIGNED_IN, 403),
        description="A cycle waiting for its human comparison takes its decision first if the evidence allows.",
    )
    def get(self, request, pk):
        found = _cycle_for(request, pk, *STAFF_ROLES)
        if stale_work_fail():
            found.refresh_from_db()
        if found.status == Cycle.Status.WAITING:
            found = cycle_decide(found)
        return Response(CycleSerializer(found).data)


class CycleCancel(generics.GenericAPIView):
    serializer_class = CycleSerializer

    @extend_schema(
        request=None,
        responses=with_errors({200: CycleSerializer}, *SIGNED_IN, 403, 409),
        description="End an active cycle at once; its run or generation stops within seconds. Project admins only.",
    )
    def post(self, request, pk):
        found = _cycle_for(request, pk, Role.ADMIN)
        cycle_cancel(cycle=found, user=request.user)
        return Response(CycleSerializer(_cycle_for(request, pk, Role.ADMIN)).data)


class CycleRetry(generics.GenericAPIView):
    serializer_class = CycleRetrySerializer

    @extend_schema(
        request=CycleRetrySerializer,
        responses=with_errors({202: CycleSerializer}, *SIGNED_IN, 403, 409),
        description="Queue a failed cycle again from its failed step, with a corrected run config if given. "
        "Project admins only.",
    )
    def post(self, request, pk):
        found = _cycle_for(request, pk, Role.ADMIN)
        given = CycleRetrySerializer(data=request.data)
        given.is_valid(raise_exception=True)
        retried = cycle_retry(cycle=found, run_config_yaml=given.validated_data.get("run_config_yaml"))
        return Response(CycleSerializer(retried).data, status=status.HTTP_202_ACCEPTED)


class ScheduleSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.slug", read_only=True)
    snapshot_config = serializers.JSONField(required=False, help_text="Snapshot options (README).")
    policy = serializers.JSONField(required=False, help_text="Promotion policy (README); missing settings default.")
    run_config_yaml = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=100_000)
    updated_by = serializers.CharField(source="updated_by.username", default=None, allow_null=True, read_only=True)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="Null until first saved.")

    class Meta:
        model = Schedule
        fields = [
            "project",
            "enabled",
            "cron",
            "min_new_annotations",
            "snapshot_config",
            "run_config_yaml",
            "policy",
            "last_fired_at",
            "checked_at",
            "updated_by",
            "updated_at",
        ]
        read_only_fields = ["last_fired_at", "checked_at"]


SCHEDULE_FIELDS = ("enabled", "cron", "min_new_annotations", "snapshot_config", "run_config_yaml", "policy")


class ScheduleDetail(generics.GenericAPIView):
    serializer_class = ScheduleSerializer

    def get_object(self):
        """The project's loop settings, for staff (DRF's OPTIONS asks for it too)."""
        return schedule_for(membership_for(self.request.user, self.kwargs["slug"], *STAFF_ROLES).project)

    @extend_schema(operation_id="schedule_read", responses=with_errors({200: ScheduleSerializer}, *SIGNED_IN, 403))
    def get(self, request, slug):
        return Response(ScheduleSerializer(self.get_object()).data)

    @extend_schema(
        operation_id="schedule_update",
        request=ScheduleSerializer,
        responses=with_errors({200: ScheduleSerializer}, *SIGNED_IN, 403),
        description="Save the loop settings, validated as the schedule page validates them (errors name fields such "
        "as `cron`, `run_config_yaml`, `snapshot_config.eval_fraction`, `policy.min_judgments`). Settings left out "
        "keep their current values. Project admins only.",
    )
    def put(self, request, slug):
        project = membership_for(request.user, slug, Role.ADMIN).project
        current = schedule_for(project)
        given = ScheduleSerializer(current, data=request.data)
        given.is_valid(raise_exception=True)
        values = {name: given.validated_data.get(name, getattr(current, name)) for name in SCHEDULE_FIELDS}
        saved = schedule_update(project=project, user=request.user, **values)
        return Response(ScheduleSerializer(saved).data)
