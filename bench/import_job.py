"""Figures for imports in the browser: 100,000 JSONL lines through the background job path (upload, check, import),
the task functions called directly as the worker would call them.

Run by hand: `.venv/bin/python bench/import_job.py [--db sqlite|postgres] [--lines 100000]`.
Prints the seconds of the upload (saving the file), of the check (a dry run) and of the import, with lines/s,
and how many progress writes each made.
"""

import argparse
import json
import secrets
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

from bench import workspace  # noqa: E402


def configure(db: str) -> None:
    media = RESULTS / "import_job_media"
    shutil.rmtree(media, ignore_errors=True)
    workspace.configure(db, "import", MEDIA_ROOT=str(media))


def rows(count: int):
    """Lines of about 1 KB, of every kind, with the client's own id in meta."""
    filler = " ".join(["Give the reasons, the trade-offs and an example a newcomer can follow."] * 12)
    kinds = [
        lambda i: {"kind": "demonstration", "prompt": f"Explain topic {i}. {filler}", "task_type": "open_qa"},
        lambda i: {
            "kind": "refusal",
            "prompt": f"Harmful request {i}. {filler}",
            "safety": "should_refuse",
            "harm_category": "cyber",
        },
        lambda i: {
            "kind": "preference",
            "prompt": f"Which answer to {i} is better? {filler}",
            "responses": [{"text": f"A careful answer to {i}."}, {"text": f"A sloppy answer to {i}."}],
        },
    ]
    return (json.dumps({**kinds[i % 3](i), "meta": {"client_id": f"c-{i}"}}) for i in range(count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    configure(args.db)

    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotation import import_jobs
    from annotation.models import Item, ItemImportJob
    from annotation.projects import project_create

    admin = get_user_model().objects.create_user(username="admin", password=secrets.token_urlsafe(16))
    project = project_create(creator=admin, name="Bench", slug="bench", overlap=2)
    body = ("\n".join(rows(args.lines)) + "\n").encode()

    writes = {"count": 0}
    phase_started: dict[str, float] = {}
    original = import_jobs._ProgressWriter.__call__

    def counted(self, phase, fraction, *, force=False):
        before = self.last_write
        original(self, phase, fraction, force=force)
        writes["count"] += self.last_write != before
        phase_started.setdefault(f"{self.status} {phase}", time.perf_counter())

    import_jobs._ProgressWriter.__call__ = counted

    started = time.perf_counter()
    job = import_jobs.import_job_create(
        project=project, by=admin, upload=SimpleUploadedFile("bench.jsonl", body, "application/x-ndjson")
    )
    upload_s = time.perf_counter() - started

    started = time.perf_counter()
    assert import_jobs.job_check(job.id) == ItemImportJob.Status.CHECKED, ItemImportJob.objects.get(id=job.id).report
    check_s, check_writes = time.perf_counter() - started, writes["count"]

    import_jobs.import_job_start(job=ItemImportJob.objects.get(id=job.id), by=admin)
    started = time.perf_counter()
    status = import_jobs.job_run(job.id)
    at_end = time.perf_counter()
    run_s, run_writes = time.perf_counter() - started, writes["count"] - check_writes
    job = ItemImportJob.objects.get(id=job.id)
    assert status == ItemImportJob.Status.DONE, job.error
    assert job.created_count == args.lines == Item.objects.filter(project=project).count()

    print(f"{args.db}: {args.lines} lines, {len(body) / 2**20:.1f} MiB")
    print(f"  upload (save the file)  {upload_s:6.2f} s")
    print(
        f"  check (dry run)         {check_s:6.2f} s  {args.lines / check_s:8.0f} lines/s  {check_writes} progress writes"
    )
    print(f"  import                  {run_s:6.2f} s  {args.lines / run_s:8.0f} lines/s  {run_writes} progress writes")
    print(f"  check + import          {check_s + run_s:6.2f} s")
    marks = sorted(phase_started.items(), key=lambda mark: mark[1])
    for (name, at), (_, after) in zip(marks, [*marks[1:], ("end", at_end)], strict=True):
        print(f"    {name:30} {after - at:6.2f} s")


if __name__ == "__main__":
    main()
