from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.settings import api_settings

from annotation import assignment as engine
from annotation.api import serializers as s
from annotation.api.parsers import JSONParser
from annotation.api.schema import SIGNED_IN, SkipResultSerializer, TokenSerializer, with_errors
from annotation.drafts import draft_for, draft_save
from annotation.errors import InvalidInput
from annotation.item_import import HTTP_MAX_IMPORT_BYTES, HTTP_MAX_IMPORT_LINES, item_import, jsonl_lines
from annotation.metrics.summary import project_metrics
from annotation.projects import membership_set, project_create
from annotation.selectors import (
    annotations_for,
    items_for_staff,
    membership_for,
    own_assignment,
    project_progress,
    projects_for_user,
)
from annotation.taxonomy import Role

PAGINATION_PARAMS = {"cursor", "page_size"}


class IdCursorPagination(CursorPagination):
    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


@extend_schema_view(
    post=extend_schema(request=AuthTokenSerializer, responses=with_errors({200: TokenSerializer}, 400, 429))
)
class TokenCreate(ObtainAuthToken):
    """Trade a username and password for an API token; failed logins are throttled per username and address
    (config/login_throttle.py), the same as on the login pages."""

    parser_classes = api_settings.DEFAULT_PARSER_CLASSES


def _validated(serializer_class, data, **kwargs):
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _filters(serializer_class, params) -> dict:
    """Validated query filters; an unknown parameter is a 400, never handed to the ORM."""
    allowed = set(serializer_class().fields)
    unknown = sorted(set(params) - allowed - PAGINATION_PARAMS)
    if unknown:
        raise ValidationError({unknown[0]: f"unknown filter; allowed: {', '.join(sorted(allowed))}"})
    return _validated(serializer_class, params)


class ProjectList(generics.GenericAPIView):
    serializer_class = s.ProjectSerializer

    @extend_schema(operation_id="projects_list", responses=with_errors({200: s.ProjectSerializer(many=True)}, 401))
    def get(self, request):
        return Response(s.ProjectSerializer(projects_for_user(request.user), many=True).data)

    @extend_schema(
        request=s.ProjectCreateSerializer, responses=with_errors({201: s.ProjectSerializer}, 400, 401, 403, 409)
    )
    def post(self, request):
        if not request.user.is_staff:
            raise PermissionDenied("Only staff users create projects.")
        project = project_create(creator=request.user, **_validated(s.ProjectCreateSerializer, request.data))
        project.role = Role.ADMIN
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetail(generics.GenericAPIView):
    serializer_class = s.ProjectStatsSerializer

    @extend_schema(responses=with_errors({200: s.ProjectStatsSerializer}, *SIGNED_IN))
    def get(self, request, slug):
        membership = membership_for(request.user, slug)
        project = membership.project
        project.role = membership.role
        for name, value in project_progress(membership).items():
            setattr(project, name, value)
        return Response(s.ProjectStatsSerializer(project).data)


class MemberList(generics.GenericAPIView):
    serializer_class = s.MembershipSerializer

    @extend_schema(responses=with_errors({200: s.MembershipSerializer(many=True)}, *SIGNED_IN, 403))
    def get(self, request, slug):
        membership = membership_for(request.user, slug, Role.REVIEWER, Role.ADMIN)
        members = membership.project.memberships.select_related("user").order_by("user__username")
        return Response(s.MembershipSerializer(members, many=True).data)

    @extend_schema(responses=with_errors({201: s.MembershipSerializer}, *SIGNED_IN, 403, 409))
    def post(self, request, slug):
        membership = membership_for(request.user, slug, Role.ADMIN)
        data = _validated(s.MembershipSerializer, request.data)
        added = membership_set(project=membership.project, username=data["user"]["username"], role=data["role"])
        return Response(s.MembershipSerializer(added).data, status=status.HTTP_201_CREATED)


class ItemList(generics.GenericAPIView):
    serializer_class = s.ItemSerializer
    pagination_class = IdCursorPagination

    @extend_schema(
        parameters=[s.ItemFilterSerializer],
        responses=with_errors({200: s.ItemSerializer(many=True)}, *SIGNED_IN, 403),
    )
    def get(self, request, slug):
        filters = _filters(s.ItemFilterSerializer, request.query_params)
        items = items_for_staff(membership_for(request.user, slug), **filters)
        page = self.paginate_queryset(items)
        return self.get_paginated_response(s.ItemSerializer(page, many=True).data)


class ItemImport(generics.GenericAPIView):
    """Import items from JSONL: send the file as the body (application/x-ndjson) or as multipart field `file`."""

    serializer_class = s.ImportResultSerializer
    parser_classes = [MultiPartParser, JSONParser]

    @extend_schema(
        request={
            "application/x-ndjson": {"type": "string"},
            "multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}},
        },
        responses=with_errors({201: s.ImportResultSerializer}, *SIGNED_IN, 403),
    )
    def post(self, request, slug):
        membership = membership_for(request.user, slug, Role.ADMIN)
        if int(request.META.get("CONTENT_LENGTH") or 0) > HTTP_MAX_IMPORT_BYTES:
            raise InvalidInput(
                f"The import is over {HTTP_MAX_IMPORT_BYTES // 2**20} MiB; split it, "
                "or run `manage.py import_items` on the server for larger files."
            )
        if request.content_type.startswith("multipart/"):
            upload = request.FILES.get("file")
            if upload is None:
                raise InvalidInput("Attach the JSONL file as the multipart field 'file'.", field="file")
            stream = upload
        else:
            stream = request._request
        result = item_import(project=membership.project, lines=jsonl_lines(stream), max_lines=HTTP_MAX_IMPORT_LINES)
        return Response(s.ImportResultSerializer(result).data, status=status.HTTP_201_CREATED)


class AssignmentNext(generics.GenericAPIView):
    serializer_class = s.AssignmentSerializer

    @extend_schema(
        request=None,
        responses=with_errors(
            {200: s.AssignmentSerializer, 204: OpenApiResponse(description="Nothing left for you.")}, *SIGNED_IN, 409
        ),
    )
    def post(self, request, slug):
        membership = membership_for(request.user, slug)
        assignment = engine.assignment_next(project=membership.project, user=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(s.AssignmentSerializer(assignment).data)


class AssignmentSubmit(generics.GenericAPIView):
    serializer_class = s.SubmitSerializer

    @extend_schema(
        responses=with_errors(
            {
                201: s.AnnotationSerializer,
                200: OpenApiResponse(s.AnnotationSerializer, description="A retry with the same client_id."),
            },
            *SIGNED_IN,
            409,
            410,
        )
    )
    def post(self, request, pk):
        data = _validated(s.SubmitSerializer, request.data)
        annotation, created = engine.annotation_submit(
            assignment_id=pk,
            user=request.user,
            client_id=data["client_id"],
            payload=data["payload"],
            time_spent_ms=data.get("time_spent_ms"),
        )
        return Response(
            s.AnnotationSerializer(annotation).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class AssignmentSkip(generics.GenericAPIView):
    serializer_class = s.SkipSerializer

    @extend_schema(responses=with_errors({200: SkipResultSerializer}, *SIGNED_IN, 409, 410))
    def post(self, request, pk):
        data = _validated(s.SkipSerializer, request.data)
        assignment = engine.assignment_skip(assignment_id=pk, user=request.user, reason=data["reason"])
        return Response({"id": assignment.id, "status": assignment.status})


class AssignmentDraft(generics.GenericAPIView):
    serializer_class = s.DraftSerializer

    def get_object(self):
        """The caller's own assignment (DRF's OPTIONS describes PUT through it)."""
        return own_assignment(self.kwargs["pk"], self.request.user)

    @extend_schema(responses=with_errors({200: s.DraftSerializer}, *SIGNED_IN))
    def get(self, request, pk):
        draft = draft_for(assignment_id=pk, user=request.user)
        return Response(
            s.DraftSerializer(draft).data if draft else {"payload": None, "version": None, "updated_at": None}
        )

    @extend_schema(responses=with_errors({200: s.DraftSerializer}, *SIGNED_IN, 409, 410))
    def put(self, request, pk):
        data = _validated(s.DraftSerializer, request.data)
        draft = draft_save(assignment_id=pk, user=request.user, payload=data["payload"], version=data.get("version"))
        return Response(s.DraftSerializer(draft).data)


class AnnotationList(generics.GenericAPIView):
    serializer_class = s.AnnotationSerializer
    pagination_class = IdCursorPagination

    @extend_schema(
        parameters=[s.AnnotationFilterSerializer],
        responses=with_errors({200: s.AnnotationSerializer(many=True)}, *SIGNED_IN),
    )
    def get(self, request, slug):
        filters = _filters(s.AnnotationFilterSerializer, request.query_params)
        annotations = annotations_for(membership_for(request.user, slug), **filters)
        page = self.paginate_queryset(annotations)
        return self.get_paginated_response(s.AnnotationSerializer(page, many=True).data)


class ProjectMetrics(generics.GenericAPIView):
    """Agreement, per-annotator quality, coverage, response consistency and near-duplicates: the dashboards' figures."""

    @extend_schema(
        responses=with_errors(
            {200: OpenApiResponse(description="The figures behind the quality dashboards.")}, *SIGNED_IN, 403
        )
    )
    def get(self, request, slug):
        membership = membership_for(request.user, slug, Role.REVIEWER, Role.ADMIN)
        return Response(project_metrics(membership.project))
