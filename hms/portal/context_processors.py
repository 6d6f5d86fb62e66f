from django.conf import settings

from .access import SEARCH_ROLES, nav_links


def portal(request):
    """Values every portal page needs.

    - `hospital_name`: str; `hospital_time_zone`: IANA name the pages show times in.
    - `user_role`: the signed-in user's role (a `Role` value) or None.
    - `nav`: list of (label, href) for the top bar; `can_search_patients`: bool.
    """
    user = getattr(request, "user", None)
    role = getattr(user, "role", None) if user is not None and user.is_authenticated else None
    return {
        "hospital_name": settings.HOSPITAL_NAME,
        "hospital_time_zone": settings.HOSPITAL_TIME_ZONE,
        "user_role": role,
        "nav": nav_links(role),
        "can_search_patients": role in SEARCH_ROLES,
    }
