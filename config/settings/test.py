"""Settings for the test suite: real PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set, else SQLite."""

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; production uses Argon2
CELERY_TASK_ALWAYS_EAGER = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "documents": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
}
STATIC_ROOT = None  # tests never collectstatic; WhiteNoise serves from the finders instead
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
