"""Dashboard tables that download as CSV: the same rows the page shows."""

import csv

from django.http import HttpResponse


def wants_csv(request) -> bool:
    return request.GET.get("format") == "csv"


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
