"""Model versions across projects and a project's leaderboard over the REST API. Only projects where the user is an
admin or a reviewer are read: an annotator gets an empty list of models and a 403 for a leaderboard, never a
model's name."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from annotation.api.schema import SIGNED_IN, with_errors
from annotation.models import Membership
from annotation.selectors import STAFF_ROLES, membership_for
from training.api import ModelVersionSerializer, model_versions
from training.leaderboard import project_leaderboard


class ModelFilterSerializer(serializers.Serializer):
    project = serializers.SlugField(max_length=100, required=False, help_text="Only this project's versions.")


class AllModelVersionList(generics.GenericAPIView):
    serializer_class = ModelVersionSerializer

    @extend_schema(
        operation_id="models_list_all",
        parameters=[ModelFilterSerializer],
        responses=with_errors({200: ModelVersionSerializer(many=True)}, *SIGNED_IN),
        description="Every model version of the projects where you are an admin or a reviewer, newest first.",
    )
    def get(self, request):
        given = ModelFilterSerializer(data=request.query_params)
        given.is_valid(raise_exception=True)
        staff_of = Membership.objects.filter(user=request.user, role__in=STAFF_ROLES).values("project_id")
        found = model_versions().filter(project__in=staff_of)
        if "project" in given.validated_data:
            found = found.filter(project__slug=given.validated_data["project"])
        return Response(ModelVersionSerializer(found.order_by("-id"), many=True).data)


class RatingSerializer(serializers.Serializer):
    model = serializers.IntegerField(source="model.id", help_text="The model version's id.")
    name = serializers.CharField(source="model.name")
    status = serializers.CharField(source="model.status")
    rating = serializers.FloatField(help_text="Bradley–Terry rating; the mean of the rated models is 1000.")
    interval = serializers.ListField(
        child=serializers.FloatField(), allow_null=True, help_text="95% bootstrap interval of the rating."
    )
    battles = serializers.IntegerField(help_text="Judgments this model took part in.")


class Leaderboard(generics.GenericAPIView):
    serializer_class = RatingSerializer

    @extend_schema(
        operation_id="leaderboard",
        responses=with_errors({200: RatingSerializer(many=True)}, *SIGNED_IN, 403),
        description="Every model version judged in the project's blind comparisons, best first. Reviewers and admins.",
    )
    def get(self, request, slug):
        project = membership_for(request.user, slug, *STAFF_ROLES).project
        return Response(RatingSerializer(project_leaderboard(project), many=True).data)
