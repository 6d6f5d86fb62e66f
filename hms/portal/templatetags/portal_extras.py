"""Small display filters of the portal templates."""

from decimal import Decimal, InvalidOperation

from django import template

from hms.portal.queries import unit_display

register = template.Library()


@register.filter
def quantity(value) -> str:
    """A Decimal/number shown with at most 2 decimals and no trailing zeros (e.g. 5.100000 -> "5.1");
    "" for None."""
    if value is None or value == "":
        return ""
    try:
        d = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return str(value)
    text = f"{d.normalize():f}"
    return text


@register.filter
def unit_label(unit: str) -> str:
    """A UCUM unit as people read it (see `hms.portal.queries.unit_display`)."""
    return unit_display(unit)
