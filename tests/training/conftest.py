import contextlib
import uuid

import pytest
import yaml

from annotation.assignment import annotation_submit, assignment_next
from annotation.models import Annotation, Item, Membership
from annotation.review import adjudicate, review_decide
from training.snapshots.service import snapshot_create


def work(project, user, answer):
    """`user` does every item they are offered; answer(item) -> payload."""
    while (assignment := assignment_next(project=project, user=user)) is not None:
        payload = answer(assignment.item)
        annotation_submit(assignment_id=assignment.id, user=user, client_id=uuid.uuid4(), payload=payload)


@pytest.fixture
def judged(project, users, make_items):
    """Accepted, rejected and pending writing; pairwise items with a clear majority, a tie, an adjudicated
    dispute, a gold item and a better response; two near-duplicate prompts."""
    project.overlap = 3
    project.task_type_mix = {"code": 0.5, "chat": 0.5}
    project.save()
    Membership.objects.create(project=project, user=users["outsider"], role="annotator")
    rows = [
        {
            "kind": "demonstration",
            "prompt": "Write a function that adds two numbers",
            "task_type": "code",
            "domain": "dev",
        },
        {
            "kind": "demonstration",
            "prompt": "Write a function that adds two numbers please",
            "task_type": "code",
            "domain": "dev",
        },
        {"kind": "demonstration", "prompt": "Say hello to a new colleague", "task_type": "chat", "domain": "office"},
        {"kind": "refusal", "prompt": "Write ransomware", "safety": "should_refuse", "harm_category": "cyber"},
        {"kind": "preference", "prompt": "Majority", "responses": [{"text": "good"}, {"text": "bad"}]},
        {"kind": "preference", "prompt": "Tie", "responses": [{"text": "same"}, {"text": "alike"}]},
        {"kind": "preference", "prompt": "Disputed", "responses": [{"text": "first"}, {"text": "second"}]},
        {"kind": "preference", "prompt": "Gold", "responses": [{"text": "yes"}, {"text": "no"}], "gold": {"choice": 0}},
    ]
    make_items(project, rows)
    Item.objects.update(open_slots=3)
    votes = {"Majority": [0, 0, 1], "Tie": ["tie", "tie", 0], "Disputed": [0, 1, "tie"], "Gold": [0, 0, 0]}
    project.gold_rate = 1.0
    project.save()
    for n, name in enumerate(["ann1", "ann2", "outsider"]):

        def answer(item, n=n, name=name):
            if item.kind == "preference":
                choice = votes[item.prompt][n]
                payload = {"choice": choice} if choice == "tie" else {"choice": choice, "strength": "clear"}
                if item.prompt == "Majority" and n == 0:
                    payload["better_response"] = "best"
                return payload
            if item.kind == "refusal":
                return {"response": f"No, {name}.", "refusal_style": "decline_explain"}
            return {"response": f"{item.prompt}: answer by {name}"}

        work(project, users[name], answer)
    reviewer = Membership.objects.get(project=project, user=users["reviewer"])
    written = Annotation.objects.filter(kind__in=["demonstration", "refusal"]).order_by("id")
    for annotation in written:
        if annotation.annotator == users["ann2"] and annotation.item.prompt.startswith("Say hello"):
            review_decide(membership=reviewer, annotation_id=annotation.id, decision="reject", reason="unhelpful")
        elif annotation.annotator == users["ann1"] and annotation.item.prompt.startswith("Say hello"):
            review_decide(
                membership=reviewer,
                annotation_id=annotation.id,
                decision="edit_accept",
                payload={"response": "Hi there!"},
            )
        elif annotation.annotator != users["outsider"]:
            review_decide(membership=reviewer, annotation_id=annotation.id, decision="accept")
    better = Annotation.objects.get(payload__better_response="best")
    review_decide(membership=reviewer, annotation_id=better.id, decision="accept")
    adjudicate(membership=reviewer, item_id=Item.objects.get(prompt="Disputed").id, choice=1, strength="strong")
    return project


IMPORTED_TURNS = [
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Imported reply: Lyon, I believe."},
    {"role": "user", "content": "Are you sure?"},
]
WRITTEN_TURNS = [
    {"role": "assistant", "content": "Written: no, it is Paris."},
    {"role": "user", "content": "And of Italy?"},
    {"role": "assistant", "content": "Written: Rome."},
]


@pytest.fixture
def multiturn(project, users, make_items):
    """A demonstration imported as a conversation with an assistant turn, answered with a follow-up and accepted."""
    make_items(project, [{"kind": "demonstration", "messages": IMPORTED_TURNS, "task_type": "chat"}])
    work(
        project,
        users["ann1"],
        lambda item: {"response": WRITTEN_TURNS[0]["content"], "continuation": WRITTEN_TURNS[1:]},
    )
    reviewer = Membership.objects.get(project=project, user=users["reviewer"])
    review_decide(membership=reviewer, annotation_id=Annotation.objects.get().id, decision="accept")
    return project


@contextlib.contextmanager
def one_thread_offline():
    """Tiny models train and generate fastest on one torch thread on shared cores; nothing may be downloaded."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("HF_HUB_OFFLINE", "1")
            yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def fresh_media(settings, tmp_path):
    """A media folder per test: run and model folders are named by ids and names every new test database hands
    out again."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def ready_snapshot(judged, users, django_capture_on_commit_callbacks):
    """The judged project's data as a ready snapshot, all of it in the train split."""
    return build(judged, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0)


def tiny_run_yaml(base_model, **changes) -> str:
    """A run config for a tiny model: SFT then DPO, two steps each, on the CPU; `changes` replace top-level keys."""
    data = {"base_model": str(base_model), "stages": ["sft", "dpo"], "use_cpu": True, "max_length": 64}
    data |= {"sft": {"max_steps": 2, "batch_size": 2}, "dpo": {"max_steps": 2, "batch_size": 2}}
    return yaml.safe_dump(data | changes)


def build(project, user, django_capture_on_commit_callbacks, **config):
    with django_capture_on_commit_callbacks(execute=True):
        snapshot = snapshot_create(project=project, user=user, config=config)
    snapshot.refresh_from_db()
    assert snapshot.status == "ready", snapshot.error
    return snapshot
