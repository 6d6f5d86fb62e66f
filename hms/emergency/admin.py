"""The emergency app in the Django admin."""

from . import (
    admin_codes,  # noqa: F401  (codes, duty, broadcasts)
    admin_ed,  # noqa: F401  (ED visits, emergency requests)
)
