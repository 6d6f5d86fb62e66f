"""The private storage of medical documents: the `STORAGES["documents"]` alias, never under a public URL.

- Local (default): `PrivateFileSystemStorage` at `PRIVATE_MEDIA_ROOT`, outside `MEDIA_ROOT`; its `url()`
  raises, so no template or serializer can ever hand out a direct link.
- S3-compatible (`DOCUMENT_STORAGE=s3`): django-storages' `S3Storage` with a private ACL (see
  `config/settings/base.py` and the README for the variables).

Files are only ever read back through `hms.documents` download views, which check access and audit.
The model's `FileField` uses `get_document_storage`, whose storage resolves the alias on each call: changing
`settings.STORAGES` (tests do, to a temporary directory) takes effect at once.
"""

from django.core.files.storage import FileSystemStorage, Storage, storages

DOCUMENTS_STORAGE_ALIAS = "documents"


class PrivateFileSystemStorage(FileSystemStorage):
    """A `FileSystemStorage` with no URL: `url()` raises `ValueError` instead of pointing at MEDIA_URL."""

    def url(self, name):
        raise ValueError("Medical documents have no public URL; download them through the audited view.")


class DocumentStorage(Storage):
    """The `documents` alias, looked up on every call (so `settings.STORAGES` may change, as in tests, and
    a missing alias only fails when a document is actually stored or read, never at import)."""

    @staticmethod
    def backend() -> Storage:
        return storages[DOCUMENTS_STORAGE_ALIAS]

    def open(self, name, mode="rb"):
        return self.backend().open(name, mode)

    def save(self, name, content, max_length=None):
        return self.backend().save(name, content, max_length=max_length)

    def delete(self, name):
        return self.backend().delete(name)

    def exists(self, name):
        return self.backend().exists(name)

    def size(self, name):
        return self.backend().size(name)

    def path(self, name):
        return self.backend().path(name)

    def url(self, name):
        return self.backend().url(name)

    def listdir(self, path):
        return self.backend().listdir(path)

    def generate_filename(self, filename):
        return self.backend().generate_filename(filename)

    def get_valid_name(self, name):
        return self.backend().get_valid_name(name)

    def get_available_name(self, name, max_length=None):
        return self.backend().get_available_name(name, max_length=max_length)

    def get_modified_time(self, name):
        return self.backend().get_modified_time(name)


document_storage = DocumentStorage()


def get_document_storage():
    """The storage of `Document.file` (a callable, so migrations name it instead of a path)."""
    return document_storage
