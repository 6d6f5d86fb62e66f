from django.conf import settings


def portal(request):
    """Values every portal page needs: the hospital's name and the signed-in user's role."""
    user = getattr(request, "user", None)
    return {
        "hospital_name": settings.HOSPITAL_NAME,
        "user_role": getattr(user, "role", None) if user is not None and user.is_authenticated else None,
    }
