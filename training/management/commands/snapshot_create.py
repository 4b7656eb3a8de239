import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotation.errors import QuorumError
from annotation.models import Project
from training.snapshots.config import SnapshotConfig
from training.snapshots.runner import snapshot_build
from training.snapshots.service import snapshot_create


class Command(BaseCommand):
    help = "Build a dataset snapshot of a project now, with a progress bar (README: 'Dataset snapshots')."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("--config", help="a JSON file of snapshot options")
        for name, default in SnapshotConfig().as_dict().items():
            if isinstance(default, bool | dict):
                parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=json.loads, metavar="JSON")
            else:
                parser.add_argument(
                    f"--{name.replace('_', '-')}", dest=name, type=type(default) if default is not None else int
                )

    def handle(self, *args, project, config, **options):
        target = Project.objects.filter(slug=project).first()
        if target is None:
            raise CommandError(f"No project with slug {project!r}.")
        try:
            settings = json.loads(Path(config).read_text()) if config else {}
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"Cannot read the options in {config}: {exc}") from exc
        settings |= {name: options[name] for name in SnapshotConfig().as_dict() if options.get(name) is not None}
        try:
            snapshot = snapshot_create(project=target, user=None, config=settings, queue=False)
        except QuorumError as exc:
            raise CommandError(exc.message) from exc
        with tqdm(total=100, desc=f"{project} v{snapshot.version}", unit="%") as bar:

            def progress(stage: str, fraction: float) -> None:
                bar.set_postfix_str(stage)
                bar.update(round(fraction * 100) - bar.n)

            snapshot = snapshot_build(snapshot.id, on_progress=progress)
            bar.update(100 - bar.n)
        rows = ", ".join(f"{name} {count}" for name, count in snapshot.counts["rows"].items())
        self.stdout.write(
            self.style.SUCCESS(f"Snapshot {project} v{snapshot.version}: {rows}; hash {snapshot.content_hash}")
        )
