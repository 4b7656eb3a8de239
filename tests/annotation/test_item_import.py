import json

import pytest

from annotation.errors import InvalidInput
from annotation.item_import import item_import
from annotation.models import Item
from annotation.taxonomy import MAX_TEXT_CHARS

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


def test_it_refuses_invalid_utf8_and_an_empty_file(project):
    assert "not UTF-8" in errors_of(project, [b"\xff\xfe{}"])[0]["message"]
    with pytest.raises(InvalidInput, match="no items"):
        item_import(project=project, lines=["", "\n"])


def test_preference_items_differ_by_their_responses(project):
    other = {**GOOD[4], "responses": [{"text": "Red"}, {"text": "Green"}]}
    assert item_import(project=project, lines=lines([GOOD[4], other])).created == 2
