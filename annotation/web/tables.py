"""Dashboard tables that download as CSV: the same rows the page shows."""

import csv
from functools import wraps

from django.http import HttpResponse

from annotation.web.forms import TableForm, invalid, refused


def table_query(*tables: str):
    """For a dashboard whose query names one of `tables` ("" for its default) and `format=csv` for a download:
    the view gets `table` and `csv` arguments, and any other value is a 400 that says which."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            form = TableForm(request.GET, tables=tables)
            if not form.is_valid():
                return refused(invalid(form), status=400)
            query = form.cleaned_data
            return view(request, *args, table=query["table"], csv=query["format"] == "csv", **kwargs)

        return wrapper

    return decorate


def csv_response(filename: str, rows: list[dict], columns: list[str]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    writer = csv.DictWriter(response, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(row.get(key)) for key in columns})
    return response


def _cell(value):
    if isinstance(value, list):
        return "; ".join(map(str, value))
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # a spreadsheet must not run user text as a formula
    return value


def bars(rows: list[dict], label: str, value: str, target: str | None = None) -> list[dict]:
    """Rows scaled for a horizontal bar chart: width and target in percent of the largest value."""
    top = max([row[value] for row in rows] + [row[target] for row in rows if target] + [1e-9])
    return [
        {
            "label": row[label],
            "value": row[value],
            "width": 100 * row[value] / top,
            "target": 100 * row[target] / top if target else None,
        }
        for row in rows
    ]
