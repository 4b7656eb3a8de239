import json

from rest_framework import renderers


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSON renderer that still answers when stored data predates text hygiene: a lone surrogate is sent as
    its JSON escape and NaN or Infinity as null, instead of one bad value failing a whole list with a 500."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except (UnicodeEncodeError, ValueError):
            plain = json.dumps(data, cls=self.encoder_class, ensure_ascii=True)
            safe = json.loads(plain, parse_constant=lambda _: None)
            return json.dumps(safe, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """The browsable API (DEBUG only) without DRF's filter-backend form: the list views filter through their own
    serializers and have no `queryset`, on which that form asserts (a 500 on every list page)."""

    def get_filter_form(self, data, view, request):
        return None


class _DownloadRenderer(renderers.BaseRenderer):
    """Lets `?format=jsonl|csv` reach a download view (which streams its own answer); an error is sent as JSON."""

    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data, ensure_ascii=True).encode()


class JSONLRenderer(_DownloadRenderer):
    media_type = "application/x-ndjson"
    format = "jsonl"


class CSVRenderer(_DownloadRenderer):
    media_type = "text/csv"
    format = "csv"
