from django.core.management.base import BaseCommand, CommandError

from annotation.errors import QuorumError
from annotation.item_import import item_import, jsonl_lines
from annotation.models import Project


class Command(BaseCommand):
    help = "Import items from a JSONL file into a project (all-or-nothing; README: 'Item import')."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("file", help="path to a .jsonl file")

    def handle(self, *args, project, file, **options):
        target = Project.objects.filter(slug=project).first()
        if target is None:
            raise CommandError(f"No project with slug {project!r}.")
        try:
            with open(file, "rb") as stream:
                result = item_import(project=target, lines=jsonl_lines(stream))
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from exc
        except QuorumError as exc:
            for error in exc.errors:
                where = f" {error['field']}" if error["field"] else ""
                self.stderr.write(f"{file}:{error['line']}:{where} {error['message']}")
            raise CommandError(exc.message) from exc
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(result.by_kind.items()))
        self.stdout.write(self.style.SUCCESS(f"Imported {result.created} items into {project}: {kinds}."))
