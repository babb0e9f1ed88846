"""gunicorn's entry for the tracking bench (bench.settings, whose URLs add a trivial
view)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
application = get_wsgi_application()
