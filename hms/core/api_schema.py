"""OpenAPI helpers shared by the API modules."""

from drf_spectacular.types import OpenApiTypes

# The request body of an action that takes no input: send nothing or `{}` (any field is ignored).
# Documented explicitly, instead of `request=None`, so every write in the schema states its body.
NoBody = {"application/json": OpenApiTypes.OBJECT}
