"""Stop receiving an oversize document while it is still being uploaded.

Django's default handlers write a large upload to a temporary file before any view sees it, so a 5 GB
"scan" would fill the disk before `validation.validate_upload` refuses it. `DocumentSizeCapHandler`, put
first in `request.upload_handlers` by `capped_uploads` (portal views) and by the API views' `initial()`,
skips a file as soon as it passes `DOCUMENT_MAX_BYTES`: its bytes are read and dropped, never stored, and
`oversize_check(request)` then answers 400 on `file`. A reverse proxy's body limit (e.g. nginx
`client_max_body_size`) still belongs in front, so the bytes are not even read.
"""

from functools import wraps

from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from .validation import max_bytes

_FLAG = "_documents_oversize"


class DocumentSizeCapHandler(FileUploadHandler):
    """Passes chunks on to the next handler until a file passes the cap, then skips that file."""

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > max_bytes():
            setattr(self.request, _FLAG, True)
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler (memory or temporary file) builds the UploadedFile


def install_size_cap(request) -> None:
    """Put the cap first among `request`'s upload handlers (a Django HttpRequest, before its body is read)."""
    request.upload_handlers.insert(0, DocumentSizeCapHandler(request))


def oversize_check(request) -> None:
    """Raise `ValidationError` ({"file": ...}, 400) when the cap skipped an uploaded file."""
    django_request = getattr(request, "_request", request)
    if getattr(django_request, _FLAG, False):
        limit = max_bytes()
        shown = f"{limit / (1024 * 1024):.0f} MB" if limit >= 1024 * 1024 else f"{limit} bytes"
        raise ValidationError({"file": f"The file is larger than the largest allowed, {shown}."})


def capped_uploads(view):
    """Decorator of a portal view that accepts document uploads: installs the size cap before the body is
    parsed. The CSRF middleware would parse the body first, so CSRF is checked here instead (Django's
    documented pattern: `csrf_exempt` outside, `csrf_protect` inside)."""
    protected = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method == "POST":
            install_size_cap(request)
        return protected(request, *args, **kwargs)

    return wrapped
