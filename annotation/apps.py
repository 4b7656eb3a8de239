from django.apps import AppConfig
from django.db.backends.signals import connection_created


class AnnotationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "annotation"

    def ready(self):
        from annotation.text import sqlite_reads_stored_surrogates

        connection_created.connect(sqlite_reads_stored_surrogates, dispatch_uid="sqlite_reads_stored_surrogates")
