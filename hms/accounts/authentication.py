"""Authentication that loads the user together with their role (one query instead of two per request)."""

from django.contrib.auth.backends import ModelBackend
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from .models import User


class RoleModelBackend(ModelBackend):
    """Django's ModelBackend (web sessions, admin) with `User.objects.with_role()`."""

    def get_user(self, user_id):
        user = User.objects.with_role().filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None


class RoleJWTAuthentication(JWTAuthentication):
    """simplejwt's JWTAuthentication with the same checks, loading the user with their role.

    Raises `InvalidToken` (401) for a token without a user id, `AuthenticationFailed` (401) for an
    unknown or inactive user, or a password changed since the token was issued (when revocation is on).
    """

    def get_user(self, validated_token):
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken("Token contained no recognizable user identification") from exc
        user = User.objects.with_role().filter(**{api_settings.USER_ID_FIELD: user_id}).first()
        if user is None:
            raise AuthenticationFailed("User not found", code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed("The user's password has been changed.", code="password_changed")
        return user


def _register_openapi_scheme() -> None:
    """Describe `RoleJWTAuthentication` in the OpenAPI schema exactly like simplejwt's own scheme."""
    from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme

    class RoleJWTScheme(SimpleJWTScheme):
        target_class = "hms.accounts.authentication.RoleJWTAuthentication"
        priority = 1


_register_openapi_scheme()
