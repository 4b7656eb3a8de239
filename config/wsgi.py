import os
import sys
from importlib import import_module

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
try:
    application = get_wsgi_application()
except ImproperlyConfigured as exc:
    sys.exit(f"Configuration error: {exc}")
# The views, serializers and forms (half a second of imports) load here, not on each worker's first request: gunicorn
# imports this module once and forks its workers from it (preload_app), so they share those pages too.
import_module(settings.ROOT_URLCONF)
