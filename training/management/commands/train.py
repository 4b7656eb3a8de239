import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import QuorumError
from training.liveness import stale_work_fail
from training.models import ModelVersion, Snapshot, TrainingRun
from training.run_cancel import training_run_cancel
from training.runs import training_run_create

FINAL = {TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED, TrainingRun.Status.CANCELLED}


class Command(BaseCommand):
    help = (
        "Train on a snapshot: queue the pipeline as a background task and follow its log; or cancel a run "
        "(README: 'Training')."
    )

    def add_arguments(self, parser):
        parser.add_argument("snapshot", nargs="?", help="a snapshot id, or project/version such as demo/3")
        parser.add_argument("--config", help="the run config (YAML)")
        parser.add_argument("--parent", help="start from this registered model (its name) instead of base_model")
        parser.add_argument("--no-follow", action="store_true", help="queue the run and return")
        parser.add_argument("--cancel", type=int, metavar="RUN_ID", help="cancel this queued or running run")

    def handle(self, *args, snapshot, config, parent, no_follow, cancel, **options):
        if cancel is not None:
            return self._cancel(cancel)
        if not snapshot or not config:
            raise CommandError("Name a snapshot and a --config to train, or --cancel RUN_ID.")
        found = self._snapshot(snapshot)
        parent_model = None
        if parent:
            parent_model = ModelVersion.objects.filter(project=found.project, name=parent).first()
            if parent_model is None:
                raise CommandError(f"No model named {parent!r} in {found.project.slug}.")
        try:
            config_yaml = Path(config).read_text()
        except OSError as exc:
            raise CommandError(f"Cannot read {config}: {exc.strerror}") from exc
        try:
            run = training_run_create(snapshot=found, config_yaml=config_yaml, parent=parent_model)
        except QuorumError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Run {run.id} on {found} queued.")
        if no_follow:
            return
        run = self._follow(run)
        if run.status != TrainingRun.Status.SUCCEEDED:
            reason = run.log_tail.strip().splitlines()[-1:] or ["no log"]
            raise CommandError(
                f"Run {run.id} {run.status} (exit code {run.exit_code}): {reason[0]} Its log: {run.log_path}"
            )
        version = run.model_version
        self.stdout.write(
            self.style.SUCCESS(f"Run {run.id} succeeded: model {version.name} registered as a candidate.")
        )

    def _cancel(self, run_id: int) -> None:
        found = TrainingRun.objects.filter(id=run_id).first()
        if found is None:
            raise CommandError(f"No run {run_id}.")
        try:
            run = training_run_cancel(run=found)
        except QuorumError as exc:
            raise CommandError(exc.message) from exc
        if run.status == TrainingRun.Status.CANCELLED:
            self.stdout.write(f"Run {run.id} cancelled.")
        else:
            self.stdout.write(f"Run {run.id} is being stopped; its worker ends it cancelled within a few seconds.")

    def _snapshot(self, ref: str) -> Snapshot:
        query = Snapshot.objects.select_related("project")
        if ref.isdigit():
            found = query.filter(id=int(ref)).first()
        else:
            slug, _, version = ref.partition("/")
            found = query.filter(project__slug=slug, version=int(version.lstrip("v") or 0)).first()
        if found is None:
            raise CommandError(f"No snapshot {ref!r}.")
        return found

    def _follow(self, run: TrainingRun) -> TrainingRun:
        """Print the pipeline's log as it grows, until the run ends."""
        printed, waited = 0, 0
        while True:
            stale_work_fail()
            run.refresh_from_db()
            if run.status == TrainingRun.Status.QUEUED and waited == 5:
                self.stdout.write(
                    "Waiting for the training worker (`python manage.py db_worker --queue-name training`, or "
                    "`rqworker training` with REDIS_URL; `make run` starts it)…"
                )
            if run.log_path and Path(run.log_path).exists():
                with open(run.log_path, encoding="utf-8") as log:
                    log.seek(printed)
                    chunk = log.read()
                    printed += len(chunk.encode())
                    self.stdout.write(chunk, ending="")
            if run.status in FINAL:
                return run
            time.sleep(1)
            waited += 1
