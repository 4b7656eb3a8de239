from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotation.errors import QuorumError


def exception_handler(exc, context):
    """Domain errors become JSON with their own status; everything else goes through DRF."""
    if isinstance(exc, QuorumError):
        return Response(exc.as_dict(), status=exc.status)
    return drf_exception_handler(exc, context)
