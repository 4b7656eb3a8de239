"""The OpenAPI schema is the truth: generated requests to every operation get no 500 and only documented answers.

A bounded run (EXAMPLES per operation, no shrinking) against the app in process, as a project admin with a token,
on a project with items, a live assignment, a snapshot, a run and a model version, so that path parameters name
things that exist.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.conftest import api_key, demo_rows

EXAMPLES = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def world(project, users, make_items, django_capture_on_commit_callbacks):
    from annotation.assignment import assignment_next
    from training.cycles import STEPS
    from training.models import Cycle, ModelVersion, TrainingRun
    from training.policy import Policy
    from training.snapshots.service import snapshot_create

    users["admin"].is_staff = True
    users["admin"].save()
    make_items(project, demo_rows(6) + demo_rows(2, kind="refusal", safety="should_refuse", harm_category="cyber"))
    assignment = assignment_next(project=project, user=users["admin"])
    with django_capture_on_commit_callbacks(execute=True):
        snapshot = snapshot_create(project=project, user=users["admin"], config={})
    snapshot.refresh_from_db()
    assert snapshot.status == "ready" and snapshot.files, snapshot.error
    run = TrainingRun.objects.create(snapshot=snapshot, config_yaml="base_model: x\n")
    trained = TrainingRun.objects.create(snapshot=snapshot, config_yaml="base_model: x\n", status="succeeded")
    model = ModelVersion.objects.create(
        project=project, name="demo-m1", run=trained, snapshot=snapshot, model_path="models/demo/demo-m1"
    )
    cycle = Cycle.objects.create(
        project=project,
        status="failed",
        step="train",
        steps=[{"name": name, "status": "pending", "log": ""} for name in STEPS],
        config={
            "snapshot": {},
            "run_config_yaml": "base_model: x\n",
            "policy": Policy().as_dict(),
            "trigger": "manual",
        },
        snapshot=snapshot,
    )
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotation.api_tokens import token_create
    from annotation.documents import document_import
    from annotation.import_jobs import import_job_create
    from annotation.invites import invite_create
    from annotation.models import Comment

    upload = SimpleUploadedFile("a.jsonl", b'{"kind": "demonstration", "prompt": "fuzz"}\n')
    return {
        "slug": project.slug,
        "assignment": assignment.id,
        "auth": token_create(user=users["admin"], name="fuzzed")[0],
        "comments": Comment.objects.create(project=project, item=assignment.item, author=users["admin"], text="c"),
        "documents": document_import(project=project, user=users["admin"], title="D", domain="d", text="Some text."),
        "imports": import_job_create(project=project, by=users["admin"], upload=upload),
        "invites": invite_create(project=project, by=users["admin"], role="annotator")[0],
        "cycle": cycle,
        "snapshot": snapshot,
        "run": run,
        "model": model,
        "admin": users["admin"],
    }


@pytest.fixture
def in_process():
    """Requests share the test's database connection, as Django's test client arranges."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _existing(case, world) -> None:
    """Point path parameters at the world's objects; the body, query and headers stay generated."""
    params = dict(case.path_parameters or {})
    if "slug" in params:
        params["slug"] = world["slug"]
    if "id" in params:
        kind = case.path.split("/")[3]
        known = {
            "snapshots": world["snapshot"],
            "runs": world["run"],
            "models": world["model"],
            "cycles": world["cycle"],
            **{name: world[name] for name in ("auth", "comments", "documents", "imports", "invites")},
        }
        params["id"] = known[kind].id if kind in known else world["assignment"]
    if "username" in params:
        params["username"] = "ann1"
    if "name" in params:
        params["name"] = world["snapshot"].files[0]
    case.path_parameters = params


@pytest.mark.django_db
def test_every_operation_answers_as_its_schema_says(world, in_process):
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", in_process)
    headers = {"Authorization": f"Token {api_key(world['admin'])}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 64

    failures = []
    for operation in operations:

        @given(case=st.one_of(*(operation.as_strategy(mode) for mode in GenerationMode)))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case):
            _existing(case, world)
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            fuzz()
        except Exception as exc:  # every operation runs; their failures are reported together
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
