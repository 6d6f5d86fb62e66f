"""Keep role groups' permissions current after every `migrate` (new models get their permissions)."""

from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def _roles_sync_after_migrate(sender, app_config=None, **kwargs):
    if app_config is not None and app_config.label == "accounts":
        from .roles import roles_sync

        roles_sync()
