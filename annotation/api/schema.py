"""What the OpenAPI schema says about errors: one body shape (README, "Errors are JSON") for every 4xx."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

ERROR_MEANINGS = {
    400: "The request is invalid: `field` names the first problem, `errors` lists every one.",
    401: "No valid token or session.",
    403: "Signed in, but this role may not do it.",
    404: "No such object, or not visible to you (projects you are not a member of are 404).",
    409: "Conflicts with the current state: a newer draft version, a finished assignment, a duplicate.",
    410: "The assignment's lease expired; ask for the next one.",
    429: "Too many failed logins for this username or from this address; see Retry-After.",
}
SIGNED_IN = (400, 401, 404)


class ErrorDetailSerializer(serializers.Serializer):
    line = serializers.IntegerField(required=False, help_text="The import line, for import errors.")
    field = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    field = serializers.CharField(allow_null=True, allow_blank=True)
    errors = ErrorDetailSerializer(many=True)


def with_errors(ok: dict, *codes: int) -> dict:
    """`ok` plus the error shape for each of `codes`, for extend_schema(responses=...)."""
    return {**ok, **{code: OpenApiResponse(ErrorSerializer, description=ERROR_MEANINGS[code]) for code in codes}}


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class SkipResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
