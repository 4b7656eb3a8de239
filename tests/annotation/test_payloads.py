import pytest

from annotation.errors import InvalidInput
from annotation.models import Item, Project
from annotation.payloads import validate_payload

PROJECT = Project(slug="p", task_types=["open_qa", "code"], require_rationale=False)
DEMO = Item(kind="demonstration", prompt="Say hi")
REFUSE = Item(kind="refusal", prompt="Harm", safety="should_refuse", harm_category="cyber")
COMPLY = Item(kind="refusal", prompt="Kill a process", safety="should_comply", harm_category="cyber")
PAIR = Item(kind="preference", prompt="Pick", responses=[{"text": "a"}, {"text": "b"}])


def fields_of(item, payload, project=PROJECT):
    with pytest.raises(InvalidInput) as caught:
        validate_payload(item=item, project=project, payload=payload)
    return [e["field"] for e in caught.value.errors]


@pytest.mark.parametrize(
    ("item", "payload"),
    [
        (DEMO, {"response": "Hi!"}),
        (DEMO, {"response": "Hi!", "task_type": "code", "instruction": "Say hi"}),
        (
            DEMO,
            {
                "response": "Hi!",
                "continuation": [{"role": "user", "content": "More"}, {"role": "assistant", "content": "Hello again"}],
            },
        ),
        (REFUSE, {"response": "I can't help with that.", "refusal_style": "decline_explain"}),
        (REFUSE, {"response": "No.", "refusal_style": "redirect_help", "harm_category": "illegal_activity"}),
        (COMPLY, {"response": "Use kill -9.", "disagree": True, "disagree_reason": "Could be misused"}),
        (PAIR, {"choice": 1, "strength": "strong", "criteria": {"honesty": "tie"}, "rationale": "b is right"}),
        (PAIR, {"choice": "tie", "all_unacceptable": True, "better_response": "c"}),
    ],
)
def test_it_accepts_each_valid_shape(item, payload):
    assert validate_payload(item=item, project=PROJECT, payload=payload) == payload


@pytest.mark.parametrize(
    ("item", "payload", "fields"),
    [
        (DEMO, {}, ["payload.response"]),
        (DEMO, {"response": "x", "choice": 0}, ["payload.choice"]),
        (DEMO, {"response": "x", "task_type": "poetry"}, ["payload.task_type"]),
        (
            DEMO,
            {"response": "x", "continuation": [{"role": "assistant", "content": "y"}]},
            ["payload.continuation[0]", "payload.continuation"],
        ),
        (REFUSE, {"response": "No."}, ["payload.refusal_style"]),
        (REFUSE, {"response": "No.", "refusal_style": "shrug"}, ["payload.refusal_style"]),
        (COMPLY, {"response": "Sure", "refusal_style": "decline_explain"}, ["payload.refusal_style"]),
        (COMPLY, {"response": "Sure", "disagree": True}, ["payload.disagree_reason"]),
        (COMPLY, {"response": "Sure", "disagree": "yes"}, ["payload.disagree"]),
        (PAIR, {"strength": "clear"}, ["payload.choice"]),
        (PAIR, {"choice": 2, "strength": "clear"}, ["payload.choice"]),
        (PAIR, {"choice": True, "strength": "clear"}, ["payload.choice"]),
        (PAIR, {"choice": 0}, ["payload.strength"]),
        (PAIR, {"choice": "tie", "strength": "clear"}, ["payload.strength"]),
        (PAIR, {"choice": 0, "strength": "clear", "criteria": {"speed": 0}}, ["payload.criteria.speed"]),
    ],
)
def test_it_names_every_bad_field(item, payload, fields):
    assert fields_of(item, payload) == fields


def test_a_project_can_require_a_rationale():
    strict = Project(slug="s", task_types=[], require_rationale=True)
    assert fields_of(PAIR, {"choice": 0, "strength": "slight"}, strict) == ["payload.rationale"]


def test_the_payload_must_be_an_object():
    with pytest.raises(InvalidInput, match="JSON object"):
        validate_payload(item=DEMO, project=PROJECT, payload=["x"])
