from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from annotation import text


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser through `annotation.text.loads`: NaN, Infinity, huge numbers, deep nesting, NUL and lone
    surrogates are a 400 that names the field, never a 500 or a value that the database cannot store."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        body = stream.read()
        try:
            decoded = body.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"The body is not valid {encoding}.") from exc
        return text.loads(decoded)
