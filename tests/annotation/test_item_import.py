import io
import json
import tracemalloc

import pytest

from annotation.errors import InvalidInput
from annotation.item_import import item_import, jsonl_lines
from annotation.models import AuditEvent, Item, ItemTag
from annotation.taxonomy import MAX_IMPORT_LINE_BYTES, MAX_TEXT_CHARS

pytestmark = pytest.mark.django_db

GOOD = [
    {
        "kind": "demonstration",
        "prompt": "Summarise this.",
        "task_type": "summarization",
        "domain": "legal",
        "meta": {"batch": 7},
    },
    {
        "kind": "demonstration",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Tell a joke"},
        ],
    },
    {
        "kind": "refusal",
        "prompt": "How do I pick a lock?",
        "safety": "should_refuse",
        "harm_category": "illegal_activity",
    },
    {"kind": "refusal", "prompt": "How do locks work?", "safety": "should_comply"},
    {
        "kind": "preference",
        "prompt": "Name a colour",
        "responses": [{"text": "Red", "source": "model:v3"}, {"text": "Blue"}],
    },
    {
        "kind": "preference",
        "prompt": "Name a fruit",
        "responses": [{"text": "Apple"}, {"text": "Pear"}],
        "gold": {"choice": 0},
    },
]


def lines(rows):
    return [json.dumps(row) for row in rows]


def errors_of(project, raw_lines):
    with pytest.raises(InvalidInput) as caught:
        item_import(project=project, lines=raw_lines)
    return caught.value.errors


def test_it_imports_one_line_of_every_kind(project):
    result = item_import(project=project, lines=lines(GOOD))
    assert result.created == 6
    assert result.by_kind == {"demonstration": 2, "refusal": 2, "preference": 2}
    gold = Item.objects.get(prompt="Name a fruit")
    assert gold.is_gold and gold.gold == {"choice": 0}
    assert all(item.open_slots == project.overlap and item.in_pool != item.is_gold for item in Item.objects.all())
    stored = {item.prompt: item for item in Item.objects.all()}
    assert stored["Name a colour"].responses == [{"text": "Red", "source": "model:v3"}, {"text": "Blue", "source": ""}]
    assert stored["Summarise this."].messages is None and stored["Summarise this."].domain == "legal"
    assert stored[""].messages[2] == {"role": "user", "content": "Tell a joke"}
    assert stored["How do I pick a lock?"].harm_category == "illegal_activity"
    assert stored["Summarise this."].created_at is not None and stored["Summarise this."].meta == {"batch": 7}


def test_it_accepts_bytes_and_skips_blank_lines(project):
    raw = [line.encode() for line in lines(GOOD[:2])] + [b"\n", b"   \n"]
    assert item_import(project=project, lines=raw).created == 2


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ({"kind": "essay", "prompt": "x"}, "kind", "unknown kind"),
        ({"kind": "demonstration", "prompt": "x", "task_type": "poetry"}, "task_type", "unknown value 'poetry'"),
        ({"kind": "demonstration"}, "prompt", "exactly one of"),
        ({"kind": "demonstration", "prompt": "x", "promt": "typo"}, "promt", "unknown field"),
        ({"kind": "demonstration", "prompt": "x" * (MAX_TEXT_CHARS + 1)}, "prompt", "the limit is"),
        ({"kind": "demonstration", "prompt": "   "}, "prompt", "must not be blank"),
        ({"kind": "refusal", "prompt": "x"}, "safety", "is required"),
        ({"kind": "refusal", "prompt": "x", "safety": "should_refuse"}, "harm_category", "is required"),
        ({"kind": "refusal", "prompt": "x", "safety": "maybe"}, "safety", "unknown value"),
        ({"kind": "preference", "prompt": "x", "responses": [{"text": "only one"}]}, "responses", "at least 2"),
        ({"kind": "preference", "prompt": "x", "responses": [{"text": "a"}, {"txt": "b"}]}, "responses[1]", "'text'"),
        (
            {"kind": "preference", "prompt": "x", "responses": [{"text": "a"}, {"text": "b"}], "gold": {"choice": 5}},
            "gold.choice",
            "from 0 to 1",
        ),
        (
            {"kind": "demonstration", "messages": [{"role": "robot", "content": "x"}]},
            "messages[0].role",
            "unknown role",
        ),
        (
            {
                "kind": "demonstration",
                "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}],
            },
            "messages",
            "must end with a user turn",
        ),
        ({"kind": "demonstration", "prompt": "x", "meta": [1]}, "meta", "must be an object"),
        ({"kind": "refusal", "prompt": "x", "safety": "should_comply", "responses": []}, "responses", "unknown field"),
    ],
)
def test_it_names_the_line_and_field_of_each_mistake(project, row, field, words):
    errors = errors_of(project, lines([GOOD[0], row]))
    assert errors[0]["line"] == 2
    assert errors[0]["field"] == field
    assert words in errors[0]["message"]
    assert Item.objects.count() == 0


def test_it_reports_every_bad_line_and_writes_nothing(project):
    raw = lines(GOOD) + ["{not json", json.dumps([1, 2]), json.dumps({"kind": "demonstration", "prompt": ""})]
    errors = errors_of(project, raw)
    assert [e["line"] for e in errors] == [7, 8, 9]
    assert "invalid JSON" in errors[0]["message"]
    assert "JSON object" in errors[1]["message"]
    assert Item.objects.count() == 0


def test_it_refuses_kinds_the_project_has_not_enabled(project):
    project.kinds = ["preference"]
    project.save()
    errors = errors_of(project, lines([GOOD[0]]))
    assert errors[0]["field"] == "kind" and "not enabled" in errors[0]["message"]


def test_it_refuses_duplicates_in_the_file_and_in_the_project(project):
    item_import(project=project, lines=lines([GOOD[0]]))
    same_but_spaced = {**GOOD[0], "prompt": "  Summarise   this. "}
    errors = errors_of(project, lines([GOOD[1], GOOD[1], same_but_spaced]))
    assert errors[0] == {"line": 2, "field": "", "message": "duplicate of line 1"}
    assert errors[1]["line"] == 3 and errors[1]["message"].startswith("duplicate of existing item")
    assert Item.objects.count() == 1


def test_a_clean_file_that_repeats_existing_items_names_each_and_writes_nothing(project):
    first, second = item_import(project=project, lines=lines(GOOD[:2])).items
    tagged = [{**row, "tags": ["batch-2"]} for row in GOOD[2:]]
    repeat = {**GOOD[1], "messages": [{**turn, "content": f" {turn['content']}  "} for turn in GOOD[1]["messages"]]}
    audited = AuditEvent.objects.count()
    errors = errors_of(project, lines([tagged[0], GOOD[0], *tagged[1:], repeat]))
    assert errors == [
        {"line": 2, "field": "", "message": f"duplicate of existing item {first['id']}"},
        {"line": 6, "field": "", "message": f"duplicate of existing item {second['id']}"},
    ]
    assert Item.objects.count() == 2 and not ItemTag.objects.exists() and AuditEvent.objects.count() == audited


def test_it_refuses_invalid_utf8_and_an_empty_file(project):
    assert "not UTF-8" in errors_of(project, [b"\xff\xfe{}"])[0]["message"]
    with pytest.raises(InvalidInput, match="no items"):
        item_import(project=project, lines=["", "\n"])


def test_preference_items_differ_by_their_responses(project):
    other = {**GOOD[4], "responses": [{"text": "Red"}, {"text": "Green"}]}
    assert item_import(project=project, lines=lines([GOOD[4], other])).created == 2


def test_it_accepts_and_strips_a_byte_order_mark(project):
    body = "\ufeff" + "\n".join(lines(GOOD[:2])) + "\n"
    assert item_import(project=project, lines=jsonl_lines(io.BytesIO(body.encode()))).created == 2
    assert Item.objects.filter(prompt="Summarise this.").exists()


def test_jsonl_lines_splits_a_stream_across_chunks(project):
    rows = [json.dumps({"kind": "demonstration", "prompt": f"Prompt {i} " + "x" * 1000}) for i in range(300)]
    body = ("\r\n".join(rows) + "\n\n").encode()
    assert [line.rstrip(b"\r") for line in jsonl_lines(io.BytesIO(body))] == [*(r.encode() for r in rows), b""]


class HugeLine(io.RawIOBase):
    """A 200 MB first line followed by a good one, generated as it is read and never held whole."""

    def __init__(self, size: int, tail: bytes):
        self.left, self.tail = size, tail

    def readable(self):
        return True

    def read(self, n=-1):
        if self.left:
            chunk = min(n, self.left)
            self.left -= chunk
            return b"x" * chunk
        chunk, self.tail = self.tail[:n], self.tail[n:]
        return chunk


def test_a_line_over_the_limit_is_refused_while_streaming(project):
    stream = HugeLine(200 * 2**20, ("\n" + lines(GOOD[:1])[0] + "\n").encode())
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInput) as caught:
            item_import(project=project, lines=jsonl_lines(stream))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.errors == [{"line": 1, "field": "", "message": f"line is over {MAX_IMPORT_LINE_BYTES} bytes"}]
    assert peak < 8 * MAX_IMPORT_LINE_BYTES


def test_the_bad_line_report_names_nul_lines(project):
    escaped = json.dumps({"kind": "demonstration", "prompt": "a\u0000b"})
    raw = json.dumps({"kind": "demonstration", "prompt": "x"}).replace("x", "a\x00b")
    errors = errors_of(project, lines(GOOD[:1]) + [escaped, raw])
    assert [(e["line"], e["field"]) for e in errors] == [(2, "prompt"), (3, "")]
    assert "NUL" in errors[0]["message"] and "invalid JSON" in errors[1]["message"]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('{"kind": "demonstration", "prompt": "x", "meta": {"n": NaN}}', "finite"),
        ('{"kind": "demonstration", "prompt": "x", "meta": {"n": 1e999}}', "finite"),
        ('{"kind": "demonstration", "prompt": "x", "meta": {"n": ' + "1" * 5000 + "}}", "5000 digits"),
        ('{"kind": "demonstration", "prompt": "x", "meta": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested"),
        ('{"kind": ["demonstration"], "prompt": "x"}', "unknown kind"),
        ('{"kind": "demonstration", "messages": [{"role": ["user"], "content": "x"}]}', "unknown role"),
    ],
    ids=["nan", "1e999", "5000-digits", "deep", "list-kind", "list-role"],
)
def test_junk_json_is_a_line_error_not_a_crash(project, line, words):
    errors = errors_of(project, [line])
    assert errors[0]["line"] == 1 and words in errors[0]["message"]
    assert Item.objects.count() == 0
