"""Settings for the test suite: SQLite in memory by default; PostgreSQL when
``VROP_TEST_DATABASE_URL`` is set. Tasks run immediately unless a test asks for the
real queue (``VROP_TEST_REDIS_URL``)."""

import os
import tempfile

os.environ.setdefault("VROP_DATA_DIR", tempfile.mkdtemp(prefix="vrop-test-"))
if os.environ.get("VROP_TEST_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["VROP_TEST_DATABASE_URL"]
else:
    os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)

from vrop.settings import *  # noqa: E402,F403

HUEY = {"huey_class": "huey.MemoryHuey", "name": "vrop-test", "immediate": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AXES_ENABLED = False
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
WHITENOISE_AUTOREFRESH = True
