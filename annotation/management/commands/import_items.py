from django.core.management.base import BaseCommand, CommandError

from annotation.errors import QuorumError
from annotation.item_import import item_import, item_import_dry_run, jsonl_lines
from annotation.models import Project


class Command(BaseCommand):
    help = "Import items from a JSONL file into a project (all-or-nothing; README: 'Item import')."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("file", help="path to a .jsonl file")
        parser.add_argument("--dry-run", action="store_true", help="check every line and report; write nothing")

    def handle(self, *args, project, file, dry_run, **options):
        target = Project.objects.filter(slug=project).first()
        if target is None:
            raise CommandError(f"No project with slug {project!r}.")
        try:
            with open(file, "rb") as stream:
                if dry_run:
                    return self._report(file, item_import_dry_run(project=target, lines=jsonl_lines(stream)))
                result = item_import(project=target, lines=jsonl_lines(stream), source=f"command: {file}"[:200])
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from exc
        except QuorumError as exc:
            self._problems(file, exc.errors)
            raise CommandError(exc.message) from exc
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(result.by_kind.items()))
        self.stdout.write(self.style.SUCCESS(f"Imported {result.created} items into {project}: {kinds}."))

    def _problems(self, file: str, errors: list[dict]) -> None:
        for error in errors:
            where = f" {error['field']}" if error["field"] else ""
            self.stderr.write(f"{file}:{error['line']}:{where} {error['message']}")

    def _report(self, file: str, report) -> None:
        problems = report.refusal().errors if not report.ok else []
        self._problems(file, problems)
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(report.by_kind.items())) or "none"
        types = ", ".join(f"{count} {name or '(none)'}" for name, count in sorted(report.by_task_type.items()))
        summary = (
            f"Dry run of {report.total_lines} lines: {report.valid} would be imported ({kinds}); "
            f"task types: {types or 'none'}; {report.duplicate_lines} duplicate(s), {report.bad_lines} bad line(s). "
            "Nothing was written."
        )
        if not report.ok:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))
