from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.settings import api_settings

from annotation import assignment as engine
from annotation import bulk_actions
from annotation.accounts import user_create
from annotation.api import serializers as s
from annotation.api.parsers import JSONParser
from annotation.api.renderers import CSVRenderer, JSONLRenderer, JSONRenderer
from annotation.api.schema import SIGNED_IN, SkipResultSerializer, TokenSerializer, with_errors
from annotation.api_tokens import token_create, token_revoke, tokens_for
from annotation.audit import audit_events
from annotation.comments import comment_add, comment_membership, comment_resolve, comments_for
from annotation.data_browser import TAGS_BY_NAME, items_browse
from annotation.documents import (
    document_admin,
    document_delete,
    document_import,
    document_with_passages,
    documents_search,
)
from annotation.drafts import draft_for, draft_save
from annotation.errors import Conflict, InvalidInput
from annotation.guidelines import guidelines_save
from annotation.import_jobs import import_job_create, import_job_for, import_job_start, stale_import_jobs_fail
from annotation.invites import invite_admin, invite_create, invite_path, invite_revoke, pending_invites
from annotation.item_import import (
    HTTP_MAX_IMPORT_BYTES,
    HTTP_MAX_IMPORT_LINES,
    item_import,
    item_import_dry_run,
    jsonl_lines,
)
from annotation.members import member_add, member_remove, member_role_set
from annotation.metrics.summary import project_metrics
from annotation.project_settings import project_archive, project_delete, project_unarchive, project_update
from annotation.projects import project_create
from annotation.selectors import (
    annotations_for,
    membership_for,
    own_assignment,
    project_progress,
    projects_for_user,
)
from annotation.tags import items_tag
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
class TokenCreate(generics.GenericAPIView):
    """Trade a username and password for a new API token named "API login" (listed, and revocable, with the
    user's other tokens); failed logins are throttled per username and address (config/login_throttle.py), the
    same as on the login pages."""

    serializer_class = AuthTokenSerializer
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES
    permission_classes = ()
    throttle_classes = ()

    def post(self, request):
        user = _validated(AuthTokenSerializer, request.data, context={"request": request})["user"]
        _, key = token_create(user=user, name="API login")
        return Response({"token": key})


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

    @extend_schema(
        operation_id="projects_update",
        request=s.ProjectUpdateSerializer,
        responses=with_errors({200: s.ProjectSerializer}, *SIGNED_IN, 403, 409),
    )
    def patch(self, request, slug):
        """Change settings (admins): any of the fields; a changed overlap recounts every item's open slots."""
        membership = membership_for(request.user, slug, Role.ADMIN)
        if not isinstance(request.data, dict):
            raise ValidationError("Send the settings to change as a JSON object.")
        allowed = set(s.ProjectUpdateSerializer().fields)
        if unknown := sorted(set(request.data) - allowed):
            raise ValidationError(
                {unknown[0]: f"cannot be changed here; the settings are: {', '.join(sorted(allowed))}"}
            )
        serializer = s.ProjectUpdateSerializer(membership.project, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        project = project_update(project=membership.project, by=request.user, **serializer.validated_data)
        project.role = membership.role
        return Response(s.ProjectSerializer(project).data)

    @extend_schema(
        operation_id="projects_delete",
        parameters=[s.ProjectDeleteSerializer],
        request=None,
        responses=with_errors({204: OpenApiResponse(description="Deleted.")}, *SIGNED_IN, 403, 409),
    )
    def delete(self, request, slug):
        """Delete the project and its data for good (admins): `confirm` (query or body) must be its name or slug."""
        membership = membership_for(request.user, slug, Role.ADMIN)
        data = request.data if isinstance(request.data, dict) and request.data else request.query_params
        confirm = _validated(s.ProjectDeleteSerializer, data)["confirm"]
        project_delete(project=membership.project, by=request.user, confirm_name=confirm)
        return Response(status=status.HTTP_204_NO_CONTENT)


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
        added = member_add(
            project=membership.project, by=request.user, username=data["user"]["username"], role=data["role"]
        )
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
        items = items_browse(membership_for(request.user, slug), **filters, search_limit=None)
        page = self.paginate_queryset(items.prefetch_related(TAGS_BY_NAME))
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
        parameters=[s.ImportQuerySerializer],
        responses=with_errors({201: s.ImportResultSerializer, 200: s.ImportReportSerializer}, *SIGNED_IN, 403, 409),
    )
    def post(self, request, slug):
        """With `?dry_run=true`, the report of what would be imported (200); nothing is written."""
        membership = membership_for(request.user, slug, Role.ADMIN)
        if int(request.META.get("CONTENT_LENGTH") or 0) > HTTP_MAX_IMPORT_BYTES:
            raise InvalidInput(
                f"The import is over {HTTP_MAX_IMPORT_BYTES // 2**20} MiB; split it, "
                f"use the background import (POST /api/v1/projects/{slug}/imports/), "
                "or run `manage.py import_items` on the server for larger files."
            )
        if request.content_type.startswith("multipart/"):
            upload = request.FILES.get("file")
            if upload is None:
                raise InvalidInput("Attach the JSONL file as the multipart field 'file'.", field="file")
            stream = upload
        else:
            stream = request._request
        dry_run = _validated(s.ImportQuerySerializer, request.query_params)["dry_run"]
        if dry_run:
            report = item_import_dry_run(
                project=membership.project, lines=jsonl_lines(stream), max_lines=HTTP_MAX_IMPORT_LINES
            )
            return Response(s.ImportReportSerializer(report.as_dict()).data)
        result = item_import(
            project=membership.project,
            lines=jsonl_lines(stream),
            max_lines=HTTP_MAX_IMPORT_LINES,
            by=request.user,
            source="api",
        )
        # Already in ImportResultSerializer's shape: running 5,000 items through it would cost a tenth of the import.
        data = {"created": result.created, "by_kind": result.by_kind, "items": result.items}
        return Response(data, status=status.HTTP_201_CREATED)


class AssignmentNext(generics.GenericAPIView):
    serializer_class = s.AssignmentSerializer

    @extend_schema(
        request=None,
        parameters=[s.AssignmentQueueSerializer],
        responses=with_errors(
            {200: s.AssignmentSerializer, 204: OpenApiResponse(description="Nothing left for you.")}, *SIGNED_IN, 409
        ),
    )
    def post(self, request, slug):
        """The live assignment or a resumable draft first, wherever it is; else a new one, from the queue named by
        `kind` or `task_type` where the project lets annotators choose (400 otherwise)."""
        membership = membership_for(request.user, slug)
        queue = _filters(s.AssignmentQueueSerializer, request.query_params)
        assignment = engine.assignment_next(project=membership.project, user=request.user, **queue)
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


class ProjectArchive(generics.GenericAPIView):
    """Archive the project (admins): it becomes read-only, nothing is deleted."""

    serializer_class = s.ProjectSerializer
    change = staticmethod(project_archive)

    @extend_schema(request=None, responses=with_errors({200: s.ProjectSerializer}, *SIGNED_IN, 403, 409))
    def post(self, request, slug):
        membership = membership_for(request.user, slug, Role.ADMIN)
        project = self.change(project=membership.project, by=request.user)
        project.role = membership.role
        return Response(s.ProjectSerializer(project).data)


class ProjectUnarchive(ProjectArchive):
    """Make an archived project writable again (admins)."""

    change = staticmethod(project_unarchive)


class ProjectGuidelines(generics.GenericAPIView):
    """The project's guidelines (markdown) and their version; admins POST a new version."""

    serializer_class = s.GuidelinesSerializer

    @extend_schema(responses=with_errors({200: s.GuidelinesSerializer}, *SIGNED_IN))
    def get(self, request, slug):
        project = membership_for(request.user, slug).project
        return Response({"text": project.guidelines, "note": "", "version": project.guidelines_version})

    @extend_schema(responses=with_errors({201: s.GuidelinesSerializer}, *SIGNED_IN, 403, 409))
    def post(self, request, slug):
        membership = membership_for(request.user, slug, Role.ADMIN)
        data = _validated(s.GuidelinesSerializer, request.data)
        saved = guidelines_save(project=membership.project, by=request.user, text=data["text"], note=data["note"])
        body = {"text": saved.text, "note": saved.note, "version": saved.number}
        return Response(body, status=status.HTTP_201_CREATED)


class AuditCursorPagination(IdCursorPagination):
    ordering = "-id"


class ProjectAudit(generics.GenericAPIView):
    """Who changed settings, roles, guidelines, reviews, gold, exclusions and promotions (admins), newest first."""

    serializer_class = s.AuditEventSerializer
    pagination_class = AuditCursorPagination

    @extend_schema(
        parameters=[s.AuditFilterSerializer],
        responses=with_errors({200: s.AuditEventSerializer(many=True)}, *SIGNED_IN, 403),
    )
    def get(self, request, slug):
        membership = membership_for(request.user, slug, Role.ADMIN)
        filters = _filters(s.AuditFilterSerializer, request.query_params)
        page = self.paginate_queryset(audit_events(membership.project, **filters))
        return self.get_paginated_response(s.AuditEventSerializer(page, many=True).data)


class UserCreate(generics.GenericAPIView):
    """Staff only: create a user (Django's password rules apply), then add them to projects as members."""

    serializer_class = s.UserCreateSerializer

    @extend_schema(responses=with_errors({201: s.UserSerializer}, 400, 401, 403))
    def post(self, request):
        if not request.user.is_staff:
            raise PermissionDenied("Only staff users create users; project admins invite them instead.")
        user = user_create(**_validated(s.UserCreateSerializer, request.data))
        return Response(s.UserSerializer(user).data, status=status.HTTP_201_CREATED)


class MemberDetail(generics.GenericAPIView):
    serializer_class = s.MemberRoleSerializer

    @extend_schema(responses=with_errors({200: s.MembershipSerializer}, *SIGNED_IN, 403, 409))
    def patch(self, request, slug, username):
        membership = membership_for(request.user, slug, Role.ADMIN)
        role = _validated(s.MemberRoleSerializer, request.data)["role"]
        changed = member_role_set(project=membership.project, by=request.user, username=username, role=role)
        return Response(s.MembershipSerializer(changed).data)

    @extend_schema(
        responses=with_errors(
            {204: OpenApiResponse(description="Removed; their open leases are released.")}, *SIGNED_IN, 403, 409
        )
    )
    def delete(self, request, slug, username):
        membership = membership_for(request.user, slug, Role.ADMIN)
        member_remove(project=membership.project, by=request.user, username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InviteList(generics.GenericAPIView):
    serializer_class = s.InviteCreateSerializer

    @extend_schema(responses=with_errors({200: s.InviteSerializer(many=True)}, *SIGNED_IN, 403))
    def get(self, request, slug):
        membership = membership_for(request.user, slug, Role.ADMIN)
        return Response(s.InviteSerializer(pending_invites(membership.project), many=True).data)

    @extend_schema(responses=with_errors({201: s.InviteCreatedSerializer}, *SIGNED_IN, 403))
    def post(self, request, slug):
        membership = membership_for(request.user, slug, Role.ADMIN)
        data = _validated(s.InviteCreateSerializer, request.data)
        invite, token = invite_create(
            project=membership.project, by=request.user, base_url=request.build_absolute_uri("/"), **data
        )
        invite.link = request.build_absolute_uri(invite_path(token))
        return Response(s.InviteCreatedSerializer(invite).data, status=status.HTTP_201_CREATED)


class InviteDetail(generics.GenericAPIView):
    serializer_class = s.InviteSerializer

    @extend_schema(
        responses=with_errors(
            {204: OpenApiResponse(description="Revoked; the link no longer works.")}, *SIGNED_IN, 403, 409
        )
    )
    def delete(self, request, pk):
        membership = invite_admin(request.user, pk)
        invite_revoke(project=membership.project, by=request.user, invite_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenList(generics.GenericAPIView):
    """The caller's own API tokens: list them, or create one (its key is in this answer only)."""

    serializer_class = s.ApiTokenCreateSerializer

    @extend_schema(responses=with_errors({200: s.ApiTokenSerializer(many=True)}, 401))
    def get(self, request):
        return Response(s.ApiTokenSerializer(tokens_for(request.user), many=True).data)

    @extend_schema(responses=with_errors({201: s.ApiTokenCreatedSerializer}, 400, 401))
    def post(self, request):
        token, key = token_create(user=request.user, **_validated(s.ApiTokenCreateSerializer, request.data))
        token.key = key
        return Response(s.ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)


class ApiTokenDetail(generics.GenericAPIView):
    serializer_class = s.ApiTokenSerializer

    @extend_schema(
        responses=with_errors({204: OpenApiResponse(description="Revoked; the key no longer works.")}, *SIGNED_IN)
    )
    def delete(self, request, pk):
        token_revoke(user=request.user, token_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ItemExport(generics.GenericAPIView):
    """The items matching the filters as a download: JSONL in the import format (meta.source_item is the id), or
    CSV with the main columns (cells a spreadsheet would run as formulas are quoted)."""

    renderer_classes = [JSONRenderer, JSONLRenderer, CSVRenderer]

    @extend_schema(
        parameters=[s.ItemExportQuerySerializer],
        responses=with_errors(
            {
                (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR, description="JSONL, one item a line."),
                (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV with a header row."),
            },
            *SIGNED_IN,
            403,
        ),
    )
    def get(self, request, slug):
        query = _filters(s.ItemExportQuerySerializer, request.query_params)
        membership = membership_for(request.user, slug, Role.ADMIN)
        fmt = query.pop("format")
        ids = bulk_actions.matching_ids(items_browse(membership, **query, search_limit=None))
        return bulk_actions.export_download(membership.project, ids, fmt)


class ItemBulk(generics.GenericAPIView):
    """Apply one action to the listed items, or to every item matching a filter, in one transaction (admins)."""

    serializer_class = s.ItemBulkSerializer

    @extend_schema(responses=with_errors({200: s.ItemBulkResultSerializer}, *SIGNED_IN, 403, 409))
    def post(self, request, slug):
        membership = membership_for(request.user, slug, Role.ADMIN)
        data = _validated(s.ItemBulkSerializer, request.data)
        project, by, action = membership.project, request.user, data["action"]
        if "filter" in data:
            ids = bulk_actions.matching_ids(items_browse(membership, **data["filter"], search_limit=None))
        else:
            ids = bulk_actions.selected_ids(project=project, item_ids=data["item_ids"])
        refused = {}
        if action == "requeue":
            changed = bulk_actions.items_requeue(project=project, by=by, item_ids=ids, extra=data["extra"])
        elif action == "exclude":
            changed = bulk_actions.items_exclude(project=project, by=by, item_ids=ids, reason=data["reason"])
        elif action == "include":
            changed = bulk_actions.items_include(project=project, by=by, item_ids=ids)
        elif action in ("tag_add", "tag_remove"):
            tag = [data["tag"]] if action == "tag_add" else []
            untag = [data["tag"]] if action == "tag_remove" else []
            changed = items_tag(project=project, by=by, item_ids=ids, add=tag, remove=untag)
        elif action == "gold_clear":
            changed = len(bulk_actions.items_gold_clear(membership=membership, item_ids=ids))
        else:
            result = bulk_actions.items_gold_set(membership=membership, item_ids=ids)
            changed, refused = len(result["set"]), {str(key): why for key, why in result["refused"].items()}
        body = {"action": action, "items": len(ids), "changed": changed, "refused": refused}
        return Response(s.ItemBulkResultSerializer(body).data)


class CommentList(generics.GenericAPIView):
    """Comments on the project's items: staff read every one, annotators their own; any member who may see an item
    comments on it."""

    serializer_class = s.CommentSerializer
    pagination_class = IdCursorPagination

    @extend_schema(
        parameters=[s.CommentFilterSerializer],
        responses=with_errors({200: s.CommentSerializer(many=True)}, *SIGNED_IN),
    )
    def get(self, request, slug):
        filters = _filters(s.CommentFilterSerializer, request.query_params)
        membership = membership_for(request.user, slug)
        comments = comments_for(membership, item_id=filters.get("item"), resolved=filters["resolved"])
        page = self.paginate_queryset(comments)
        return self.get_paginated_response(s.CommentSerializer(page, many=True).data)

    @extend_schema(responses=with_errors({201: s.CommentSerializer}, *SIGNED_IN, 409))
    def post(self, request, slug):
        membership = membership_for(request.user, slug)
        data = _validated(s.CommentSerializer, request.data)
        comment = comment_add(membership=membership, item_id=data["item_id"], text=data["text"])
        return Response(s.CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class CommentResolve(generics.GenericAPIView):
    serializer_class = s.CommentSerializer

    @extend_schema(request=None, responses=with_errors({200: s.CommentSerializer}, *SIGNED_IN, 403, 409))
    def post(self, request, pk):
        comment = comment_resolve(membership=comment_membership(request.user, pk), comment_id=pk)
        return Response(s.CommentSerializer(comment).data)


class ImportJobCreate(generics.GenericAPIView):
    """Upload a JSONL file for a background import: its check (a dry run) starts at once; poll the job, then start
    it. Files up to 512 MiB and 200,000 lines."""

    serializer_class = s.ImportUploadSerializer
    parser_classes = [MultiPartParser]

    @extend_schema(responses=with_errors({202: s.ImportJobSerializer}, *SIGNED_IN, 403, 409))
    def post(self, request, slug):
        membership = membership_for(request.user, slug, Role.ADMIN)
        upload = _validated(s.ImportUploadSerializer, request.data)["file"]
        job = import_job_create(project=membership.project, by=request.user, upload=upload)
        job.refresh_from_db()
        return Response(s.ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportJobDetail(generics.GenericAPIView):
    """A background import: status, progress, the dry-run report, and once done the created ids' file."""

    serializer_class = s.ImportJobSerializer

    @extend_schema(responses=with_errors({200: s.ImportJobSerializer}, *SIGNED_IN, 403))
    def get(self, request, pk):
        stale_import_jobs_fail()
        return Response(s.ImportJobSerializer(import_job_for(request.user, pk)).data)


class ImportJobStart(generics.GenericAPIView):
    serializer_class = s.ImportJobSerializer

    @extend_schema(request=None, responses=with_errors({202: s.ImportJobSerializer}, *SIGNED_IN, 403, 409))
    def post(self, request, pk):
        job = import_job_start(job=import_job_for(request.user, pk), by=request.user)
        return Response(s.ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportJobCreated(generics.GenericAPIView):
    """The created items as JSONL, one {"line", "id", "meta"} per line, in file order."""

    @extend_schema(
        responses=with_errors(
            {(200, "application/x-ndjson"): OpenApiResponse(description="JSONL, as an attachment.")},
            *SIGNED_IN,
            403,
            409,
        )
    )
    def get(self, request, pk):
        job = import_job_for(request.user, pk)
        if not job.created_ids:
            raise Conflict(f"This import is {job.status}; the ids exist once it is done.")
        response = FileResponse(
            job.created_ids.open("rb"), as_attachment=True, filename=f"{job.project.slug}-import-{job.id}-created.jsonl"
        )
        response["Content-Type"] = "application/x-ndjson"
        return response


class DocumentList(generics.GenericAPIView):
    """The project's domain documents (admins): list them (`q` searches titles and passages), or import one."""

    serializer_class = s.DocumentCreateSerializer
    pagination_class = IdCursorPagination

    @extend_schema(
        parameters=[s.DocumentFilterSerializer],
        responses=with_errors({200: s.DocumentSerializer(many=True)}, *SIGNED_IN, 403),
    )
    def get(self, request, slug):
        filters = _filters(s.DocumentFilterSerializer, request.query_params)
        membership = membership_for(request.user, slug, Role.ADMIN)
        page = self.paginate_queryset(documents_search(membership.project, filters.get("q", "")))
        return self.get_paginated_response(s.DocumentSerializer(page, many=True).data)

    @extend_schema(responses=with_errors({201: s.DocumentDetailSerializer}, *SIGNED_IN, 403, 409))
    def post(self, request, slug):
        membership = membership_for(request.user, slug, Role.ADMIN)
        data = _validated(s.DocumentCreateSerializer, request.data)
        document = document_import(project=membership.project, user=request.user, **data)
        detail = document_with_passages(membership.project, document.id)
        return Response(s.DocumentDetailSerializer(detail).data, status=status.HTTP_201_CREATED)


class DocumentDetail(generics.GenericAPIView):
    """One document with its passages and the items citing each; delete it while no item cites it."""

    serializer_class = s.DocumentDetailSerializer

    @extend_schema(responses=with_errors({200: s.DocumentDetailSerializer}, *SIGNED_IN, 403))
    def get(self, request, pk):
        document = document_admin(request.user, pk)
        return Response(s.DocumentDetailSerializer(document_with_passages(document.project, pk)).data)

    @extend_schema(
        responses=with_errors({204: OpenApiResponse(description="Deleted with its passages.")}, *SIGNED_IN, 403, 409)
    )
    def delete(self, request, pk):
        document = document_admin(request.user, pk)
        document_delete(project=document.project, by=request.user, document_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
