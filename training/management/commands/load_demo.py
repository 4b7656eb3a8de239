from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from annotation.demo import demo_load, demo_needed
from annotation.models import Project
from training.demo import demo_loop_settings

CREDENTIALS = Path(settings.BASE_DIR) / ".demo-credentials"


class Command(BaseCommand):
    help = "Load the demo project, its users and loop settings when the database is empty; print the demo logins."

    def handle(self, *args, **options):
        if demo_needed():
            passwords = demo_load()
            CREDENTIALS.write_text("".join(f"{name} {password}\n" for name, password in passwords.items()))
            CREDENTIALS.chmod(0o600)
            project = Project.objects.get(slug="demo")
            demo_loop_settings(project, project.created_by)
            self.stdout.write(self.style.SUCCESS("Loaded the demo project 'demo' with its items and loop settings."))
        if CREDENTIALS.exists():
            self.stdout.write("Demo logins (username password), also in .demo-credentials:")
            self.stdout.write(CREDENTIALS.read_text())
