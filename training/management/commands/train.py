import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import QuorumError
from training.liveness import stale_work_fail
from training.models import ModelVersion, Snapshot, TrainingRun
from training.runs import training_run_create

FINAL = {TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED}


class Command(BaseCommand):
    help = "Train on a snapshot: queue the pipeline as a background task and follow its log (README: 'Training')."

    def add_arguments(self, parser):
        parser.add_argument("snapshot", help="a snapshot id, or project/version such as demo/3")
        parser.add_argument("--config", required=True, help="the run config (YAML)")
        parser.add_argument("--parent", help="start from this registered model (its name) instead of base_model")
        parser.add_argument("--no-follow", action="store_true", help="queue the run and return")

    def handle(self, *args, snapshot, config, parent, no_follow, **options):
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
        if run.status == TrainingRun.Status.FAILED:
            reason = run.log_tail.strip().splitlines()[-1:] or ["no log"]
            raise CommandError(f"Run {run.id} failed (exit code {run.exit_code}): {reason[0]} Its log: {run.log_path}")
        version = run.model_version
        self.stdout.write(
            self.style.SUCCESS(f"Run {run.id} succeeded: model {version.name} registered as a candidate.")
        )

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
                self.stdout.write("Waiting for the task worker (`python manage.py db_worker`, started by `make run`)…")
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
