"""Blind human comparison of a candidate with the champion: model_review items with randomised sides that never
name a model to annotators, judged through the normal queue, and the candidate's win rate from those judgments."""

import uuid

import pytest
from rest_framework.test import APIClient

from annotation.assignment import annotation_submit, assignment_next
from annotation.errors import InvalidInput
from annotation.models import Item, Membership, Project
from annotation.taxonomy import MAX_TEXT_CHARS
from tests.conftest import login
from tests.training.conftest import work
from tests.training.test_promotion import add_version
from training.model_review import NO_ANSWER, model_review_items_create, model_review_results, shown_answer

pytestmark = pytest.mark.django_db

NAMES = ("zebra-7b-lora", "okapi-3b-merged")
# What no annotator may read: the models' names, their roles, and the item's meta (which holds the prompt ids).
HIDDEN = (*NAMES, "candidate", "champion", "tapir")
VOICES = {NAMES[0]: "brisk", NAMES[1]: "gentle"}  # how a test tells the models' answers apart


def answers(model: str, count: int, *, start: int = 0) -> list[dict]:
    """generate.py's answer rows: every prompt key back unchanged, with the model's response."""
    return [
        {
            "id": f"tapir-{n}",
            "messages": [{"role": "user", "content": f"Question number {n}"}],
            "task_type": ["chat", "code"][n % 2],
            "response": f"Answer {n} in a {VOICES[model]} voice",
            "tokens": 7,
            "finish": "stop",
        }
        for n in range(start, start + count)
    ]


@pytest.fixture
def pair(project):
    return add_version(project, NAMES[0]), add_version(project, NAMES[1])


def create(project, pair, count=12, **options):
    candidate, champion = pair
    return model_review_items_create(
        project=project,
        candidate=candidate,
        champion=champion,
        candidate_answers=answers(NAMES[0], count),
        champion_answers=answers(NAMES[1], count),
        **options,
    )


def results(project, pair, **options):
    candidate, champion = pair
    return model_review_results(project=project, candidate=candidate, champion=champion, resamples=200, **options)


def candidate_side(item: Item) -> int:
    return next(i for i, response in enumerate(item.responses) if VOICES[NAMES[0]] in response["text"])


def pick(side_of):
    """An annotator who picks, on every model_review item, the response side_of(item) names ("tie" for a tie)."""

    def answer(item):
        choice = side_of(item)
        return {"choice": choice} if choice == "tie" else {"choice": choice, "strength": "clear"}

    return answer


def test_items_match_prompts_by_id_with_seeded_random_sides(project, pair):
    candidate, champion = pair
    items = model_review_items_create(
        project=project,
        candidate=candidate,
        champion=champion,
        candidate_answers=answers(NAMES[0], 12),
        champion_answers=list(reversed(answers(NAMES[1], 14, start=2))),
    )
    assert [item.meta["model_review"]["prompt_id"] for item in items] == [f"tapir-{n}" for n in range(2, 12)]
    first = items[0]
    assert first.kind == "model_review" and first.task_type == "chat" and first.open_slots == project.overlap
    assert first.messages == [{"role": "user", "content": "Question number 2"}]
    sides = [item.meta["model_review"]["sides"] for item in items]
    assert {tuple(s) for s in sides} == {(candidate.id, champion.id), (champion.id, candidate.id)}
    for item, side in zip(items, sides, strict=True):
        assert side[candidate_side(item)] == candidate.id
        assert all(set(response) == {"text", "source"} and not response["source"] for response in item.responses)


def test_the_same_seed_gives_the_same_sides(project, pair):
    def sides_in(slug, seed):
        other = Project.objects.create(name=slug, slug=slug, overlap=2)
        versions = (add_version(other, f"{slug}-a"), add_version(other, f"{slug}-b"))
        return [candidate_side(item) for item in create(other, versions, seed=seed)]

    first = [candidate_side(item) for item in create(project, pair, seed=5)]
    assert sides_in("again", 5) == first
    assert sides_in("reseeded", 6) != first


def test_annotators_never_see_which_model_wrote_a_response(project, pair, users, browser_client):
    create(project, pair, count=2)
    login(browser_client, users["ann1"])
    page = browser_client.get("/p/demo/annotate/").content.decode()
    assert "Question number 0" in page and "Answer 0 in a" in page
    assert not [word for word in HIDDEN if word in page.lower()]

    api = APIClient()
    api.force_authenticate(users["ann2"])
    offered = api.post("/api/v1/projects/demo/assignments/next/")
    assert offered.status_code == 200 and offered.json()["item"]["kind"] == "model_review"
    submitted = api.post(
        f"/api/v1/assignments/{offered.json()['id']}/submit/",
        {"client_id": str(uuid.uuid4()), "payload": {"choice": "tie"}},
        format="json",
    )
    assert submitted.status_code == 201
    mine = api.get("/api/v1/projects/demo/annotations/")
    assert mine.status_code == 200 and mine.json()["results"]
    login(browser_client, users["ann2"])
    my_work = browser_client.get("/p/demo/work/")
    assert my_work.status_code == 200 and "Question number" in my_work.content.decode()
    for body in (offered.content, submitted.content, mine.content, my_work.content):
        assert not [word for word in HIDDEN if word in body.decode().lower()]
    assert api.get("/api/v1/projects/demo/items/").status_code == 403


def test_picking_the_candidate_wins_on_whichever_side_it_sits(project, pair, users):
    items = create(project, pair)
    assert {candidate_side(item) for item in items} == {0, 1}
    for name in ("ann1", "ann2"):
        work(project, users[name], pick(candidate_side))
    overall = results(project, pair).overall
    assert (overall.wins, overall.ties, overall.losses, overall.n, overall.prompts) == (24, 0, 0, 24, 12)
    assert overall.rate == 1.0 and overall.interval == (1.0, 1.0)


def test_outcomes_per_task_type_count_every_judgment_from_the_candidates_side(project, pair, users):
    create(project, pair)
    work(project, users["ann1"], pick(lambda item: candidate_side(item) if item.task_type == "chat" else "tie"))
    work(
        project,
        users["ann2"],
        pick(lambda item: candidate_side(item) if item.task_type == "chat" else 1 - candidate_side(item)),
    )
    found = results(project, pair)
    chat, code = found.by_task_type["chat"], found.by_task_type["code"]
    assert list(found.by_task_type) == ["chat", "code"]
    assert (chat.wins, chat.ties, chat.losses, chat.rate) == (12, 0, 0, 1.0)
    assert (code.wins, code.ties, code.losses, code.rate, code.prompts) == (0, 6, 6, 0.25, 6)
    assert (found.overall.wins, found.overall.ties, found.overall.losses) == (12, 6, 6)
    assert found.overall.rate == pytest.approx(15 / 24)
    low, high = found.overall.interval
    assert low < 15 / 24 < high
    swapped = model_review_results(project=project, candidate=pair[1], champion=pair[0], resamples=0)
    assert (swapped.overall.wins, swapped.overall.ties, swapped.overall.losses) == (6, 6, 12)


def test_unjudged_items_and_repeats_are_not_counted(project, pair, users, monkeypatch):
    project.overlap = 1
    project.save()
    create(project, pair, count=12)
    assignment = assignment_next(project=project, user=users["ann2"])
    annotation_submit(
        assignment_id=assignment.id, user=users["ann2"], client_id=uuid.uuid4(), payload={"choice": "tie"}
    )
    found = results(project, pair)
    assert (found.items, found.overall.n, found.overall.ties, found.overall.prompts) == (12, 1, 1, 1)
    assert found.overall.interval is None

    work(project, users["ann1"], pick(candidate_side))
    project.repeat_rate = 0.5
    project.save()
    monkeypatch.setattr("annotation.assignment.random.random", lambda: 0.0)
    work(project, users["ann1"], pick(lambda item: 1 - candidate_side(item)))
    assert Item.objects.filter(annotations__is_repeat=True).exists()
    found = results(project, pair)
    assert (found.overall.wins, found.overall.ties, found.overall.losses) == (11, 1, 0)


def test_each_item_is_open_to_overlap_annotators(project, pair, users, django_user_model):
    extra = [django_user_model.objects.create_user(username=f"ann{n}") for n in (3, 4)]
    for user in extra:
        Membership.objects.create(project=project, user=user, role="annotator")
    items = create(project, pair, count=3, overlap=3)
    assert [item.open_slots for item in items] == [3, 3, 3]
    for user in (users["ann1"], users["ann2"], extra[0]):
        work(project, user, pick(candidate_side))
    assert assignment_next(project=project, user=extra[1]) is None
    assert results(project, pair).overall.n == 9


def test_a_bad_prompt_creates_nothing_and_is_named(project, pair):
    candidate, champion = pair
    bad = answers(NAMES[0], 3)
    bad[1]["task_type"] = "juggling"
    with pytest.raises(InvalidInput) as raised:
        model_review_items_create(
            project=project,
            candidate=candidate,
            champion=champion,
            candidate_answers=bad,
            champion_answers=answers(NAMES[1], 3),
        )
    assert [(e["prompt_id"], e["field"]) for e in raised.value.errors] == [("tapir-1", "task_type")]
    assert not Item.objects.exists()


def test_prompts_answered_alike_or_compared_before_are_not_sent(project, pair):
    candidate, champion = pair
    create(project, pair, count=3)
    alike = answers(NAMES[0], 2, start=3)
    same = model_review_items_create(
        project=project,
        candidate=candidate,
        champion=champion,
        candidate_answers=answers(NAMES[0], 6),
        champion_answers=answers(NAMES[1], 3)
        + [{**row, "response": f" {row['response']}  "} for row in alike]
        + answers(NAMES[1], 1, start=5),
    )
    assert [item.meta["model_review"]["prompt_id"] for item in same] == ["tapir-5"]
    assert Item.objects.count() == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows: rows[0]["messages"][0].update(content="Another question"), "different messages"),
        (lambda rows: rows.append(dict(rows[0])), "twice"),
        (lambda rows: [row.update(id=f"x{n}") for n, row in enumerate(rows)], "no prompt in common"),
    ],
)
def test_answers_that_do_not_pair_up_are_refused(project, pair, change, message):
    candidate, champion = pair
    rows = answers(NAMES[1], 3)
    change(rows)
    with pytest.raises(InvalidInput, match=message):
        model_review_items_create(
            project=project,
            candidate=candidate,
            champion=champion,
            candidate_answers=answers(NAMES[0], 3),
            champion_answers=rows,
        )
    assert not Item.objects.exists()


def test_a_model_is_compared_only_with_another_of_the_same_project(project, pair):
    other = Project.objects.create(name="Other", slug="other")
    stranger = add_version(other, "other-m1")
    with pytest.raises(InvalidInput, match="itself"):
        create(project, (pair[0], pair[0]))
    with pytest.raises(InvalidInput, match="belong"):
        model_review_results(project=project, candidate=pair[0], champion=stranger)


def test_an_empty_answer_is_shown_as_no_answer_and_a_nul_as_a_replacement_character(project, pair):
    candidate, champion = pair
    silent = [{**row, "response": " \n"} for row in answers(NAMES[0], 2)]
    odd = [{**row, "response": "bytes\x00here"} for row in answers(NAMES[1], 2)]
    items = model_review_items_create(
        project=project,
        candidate=candidate,
        champion=champion,
        candidate_answers=silent,
        champion_answers=odd,
    )
    assert [sorted(r["text"] for r in item.responses) for item in items] == [[NO_ANSWER, "bytes\ufffdhere"]] * 2


def test_an_answer_over_the_item_limit_is_cut_and_marked():
    assert shown_answer("x" * (MAX_TEXT_CHARS + 5)) == "x" * (MAX_TEXT_CHARS - 1) + "…"
    assert shown_answer(" short\x00 ") == "short\ufffd" and shown_answer("") == NO_ANSWER
