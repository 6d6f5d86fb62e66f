"""Create the role groups with their permissions (see hms.accounts.roles)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def forwards(apps, schema_editor):
    from hms.accounts.roles import roles_sync

    # Permissions are normally created after all migrations; make them now so groups can hold them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("audit", "0001_initial"),
        ("patients", "0001_initial"),
        ("staff", "0001_initial"),
        ("clinical", "0001_initial"),
        ("lab", "0001_initial"),
        ("pharmacy", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
