import os
DATABASES = {"default": {
    "ENGINE": os.environ["PYSKILL_DJANGO_ENGINE"],
    "NAME": os.environ["PYSKILL_DJANGO_NAME"],
    "HOST": os.environ.get("PYSKILL_DJANGO_HOST", ""),
    "PORT": os.environ.get("PYSKILL_DJANGO_PORT", ""),
    "USER": os.environ.get("PYSKILL_DJANGO_USER", ""),
}}
INSTALLED_APPS = ["django.contrib.contenttypes", "shop"]
USE_TZ = True
SECRET_KEY = "x"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
