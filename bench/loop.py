"""The loop's latency for the demo project: from "a cycle is due" (the scheduler's tick) to "the comparison items are
in the annotators' queue", with the task workers running as `make run` runs them (one db_worker per queue, in their
own processes) and the demo's loop settings (its locally built tiny base model, SFT then DPO on the CPU). Every demo
item is annotated first through the real services, and every written answer accepted by the reviewer.

    .venv/bin/python bench/loop.py
"""

import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(folder: Path) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "MEDIA_ROOT": str(folder / "media"),
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DEBUG": "False",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "HF_HUB_OFFLINE": "1",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    return env


def annotate(project) -> int:
    import uuid

    from annotation.assignment import annotation_submit, assignment_next
    from annotation.models import Annotation, Membership
    from annotation.review import review_decide

    def payload(item) -> dict:
        if item.kind == "demonstration":
            return {"response": f"Here is a careful answer: {item.prompt[:80]}"}
        if item.kind == "refusal":
            if item.safety == "should_comply":
                return {"response": f"Certainly. {item.prompt[:80]}"}
            return {
                "response": "I can't help with that, but I can point you to safer resources.",
                "refusal_style": "decline_explain",
            }
        return {"choice": 0, "strength": "clear"}

    for membership in Membership.objects.filter(project=project, role="annotator").select_related("user"):
        while (assignment := assignment_next(project=project, user=membership.user)) is not None:
            annotation_submit(
                assignment_id=assignment.id,
                user=membership.user,
                client_id=uuid.uuid4(),
                payload=payload(assignment.item),
            )
    reviewer = Membership.objects.get(project=project, role="reviewer")
    written = Annotation.objects.filter(project=project, kind__in=["demonstration", "refusal"])
    for annotation_id in written.values_list("id", flat=True):
        review_decide(membership=reviewer, annotation_id=annotation_id, decision="accept")
    return Annotation.objects.filter(project=project).count()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = setup(Path(folder))
        from annotation.demo import demo_load
        from annotation.models import Item, Project
        from training.demo import demo_loop_settings
        from training.models import Cycle, Schedule
        from training.scheduler import scheduler_tick

        demo_load()
        project = Project.objects.get(slug="demo")
        demo_loop_settings(project, project.created_by)
        print(f"demo: {project.items.count()} items, {annotate(project)} annotations, writing accepted")
        Schedule.objects.filter(project=project).update(enabled=True, min_new_annotations=1)
        manage = [sys.executable, "manage.py", "db_worker", "--no-reload", "--queue-name"]
        workers = [
            subprocess.Popen([*manage, queue], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for queue in ("default", "training")
        ]
        try:
            started = time.perf_counter()
            (cycle_id,) = scheduler_tick()["started"]
            while (cycle := Cycle.objects.get(id=cycle_id)).status in ("queued", "running"):
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
        finally:
            for worker in workers:
                worker.terminate()
                worker.wait()
        print(cycle.log)
        assert cycle.status == "waiting", cycle.status
        queued = Item.objects.filter(id__in=cycle.results["review_items"], open_slots__gt=0).count()
        print(f"cycle due → {queued} comparison items in the queue: {elapsed:.1f} s")
        print("| step | seconds |")
        print("|---|---|")
        for step in cycle.steps[:-1]:
            took = datetime.fromisoformat(step["finished_at"]) - datetime.fromisoformat(step["started_at"])
            print(f"| {step['name']} | {took.total_seconds():.1f} |")


if __name__ == "__main__":
    main()
