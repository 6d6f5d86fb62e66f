"""Errors shared by services and the API.

Services raise `django.core.exceptions.ValidationError` (-> 400 with field errors),
`NotFoundOrForbidden` (-> 404: "missing" and "not yours" look the same), `PermissionDenied` (-> 403)
and `Conflict` (-> 409 with a payload). `api_exception_handler` maps them for DRF.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler


class NotFoundOrForbidden(Http404):
    """The record is missing or the requesting user may not see it; both answer 404."""


class Conflict(Exception):
    """A write that clashes with existing data (e.g. a probable duplicate patient): HTTP 409."""

    def __init__(self, message: str, *, payload: dict | None = None):
        super().__init__(message)
        self.message = message
        self.payload = payload or {}


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, Conflict):
        return Response({"detail": exc.message, **exc.payload}, status=status.HTTP_409_CONFLICT)
    return exception_handler(exc, context)
