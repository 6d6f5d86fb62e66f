"""Upload checks for medical documents: the type is decided by the bytes, never by the name or the header.

`validate_upload(file) -> DetectedFile` raises `django.core.exceptions.ValidationError` with a `file`
field error (→ HTTP 400) when the upload is:

- empty;
- larger than `settings.DOCUMENT_MAX_BYTES` (default 20 MB = 20 * 1024 * 1024 bytes);
- not one of the allowed types, judged by content: PDF (`%PDF-` at offset 0, ISO 32000-1 §7.5.2),
  PNG (8-byte signature, RFC 2083 §3.1 / ISO 15948), JPEG (SOI marker `FF D8 FF`, ITU-T T.81 Annex B),
  DICOM Part 10 (`DICM` after the 128-byte preamble, DICOM PS3.10 §7.1). A page of HTML, a ZIP or an
  executable is refused whatever its name says.

Sniffing uses **puremagic** (PyPI, MIT, pure Python, actively maintained, no libmagic system library
needed, so it works the same on every machine and in CI), then two extra checks: the best match must
be an allowed type (an executable or archive match that is as strong as the allowed one wins and is
refused), and images must also decode with Pillow (already a dependency), so a file that only starts
with an image signature is refused too.
"""

import hashlib
from dataclasses import dataclass

import puremagic
from django.conf import settings
from django.core.exceptions import ValidationError

# Detected MIME type -> (label, file extension of the stored copy).
ALLOWED_TYPES: dict[str, tuple[str, str]] = {
    "application/pdf": ("PDF", ".pdf"),
    "image/png": ("PNG", ".png"),
    "image/jpeg": ("JPEG", ".jpg"),
    "application/dicom": ("DICOM", ".dcm"),
}
# puremagic names other formats with the same leading bytes as an allowed one (FDF shares `%PDF`).
_ALIASES = {"application/vnd.fdf": "application/pdf"}
_SIGNATURE_OFFSET = {"application/pdf": 0, "image/png": 0, "image/jpeg": 0, "application/dicom": 128}
HEAD_BYTES = 8192
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


def allowed_types_text() -> str:
    return ", ".join(label for label, _ in ALLOWED_TYPES.values())


def max_bytes() -> int:
    """The upload size cap in bytes (`settings.DOCUMENT_MAX_BYTES`)."""
    return int(getattr(settings, "DOCUMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


@dataclass(frozen=True)
class DetectedFile:
    """What the bytes are: `content_type` (MIME), `extension` (with dot), `size_bytes`, `sha256` (hex)."""

    content_type: str
    extension: str
    size_bytes: int
    sha256: str


def _refuse(message: str):
    raise ValidationError({"file": message})


def _human(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def detect_content_type(head: bytes) -> str | None:
    """The allowed MIME type that `head` (the first bytes of a file) is, or None.

    None when puremagic finds nothing, when no match is an allowed type at its format's signature offset,
    or when a match of another, disallowed format is stronger than (or, for DICOM, as strong as) the
    best allowed match.
    """
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return None
    allowed, others = [], []
    for m in matches:
        mime = _ALIASES.get(m.mime_type, m.mime_type)
        if mime in ALLOWED_TYPES and m.offset == _SIGNATURE_OFFSET[mime]:
            allowed.append((m.confidence, mime))
        elif m.mime_type and mime not in ALLOWED_TYPES:
            others.append(m.confidence)
    if not allowed:
        return None
    confidence, mime = max(allowed)
    strongest_other = max(others, default=0.0)
    if strongest_other > confidence or (mime == "application/dicom" and strongest_other >= confidence):
        return None
    return mime


def _image_decodes(file) -> bool:
    from PIL import Image, UnidentifiedImageError

    file.seek(0)
    try:
        with Image.open(file) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False
    finally:
        file.seek(0)
    return True


def validate_upload(file) -> DetectedFile:
    """Check an uploaded file (a Django `File`/`UploadedFile`) and describe it; see the module docstring.

    Reads the file in chunks to hash it (SHA-256) and leaves it rewound. Raises `ValidationError`
    ({"file": ...}) for a missing, empty, oversize or disallowed file.
    """
    if file is None:
        _refuse("Choose a file to upload.")
    size = file.size
    if size is None:
        size = sum(len(chunk) for chunk in file.chunks())
    if size <= 0:
        _refuse("The file is empty.")
    limit = max_bytes()
    if size > limit:
        _refuse(f"The file is {_human(size)}; the largest allowed is {_human(limit)}.")
    file.seek(0)
    head = file.read(HEAD_BYTES)
    mime = detect_content_type(head)
    if mime is None:
        _refuse(f"This file type is not allowed. Allowed types (checked by content): {allowed_types_text()}.")
    if mime.startswith("image/") and not _image_decodes(file):
        _refuse(f"This {ALLOWED_TYPES[mime][0]} image is damaged or incomplete and cannot be read.")
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    return DetectedFile(
        content_type=mime, extension=ALLOWED_TYPES[mime][1], size_bytes=size, sha256=digest.hexdigest()
    )
