"""Vital-sign charts drawn on the server as inline SVG with pygal.

The SVG references no external JavaScript (pygal links kozea.github.io tooltips by default; `js=[]`
turns that off), so the chart page works offline and under a strict Content-Security-Policy.
"""

import datetime as dt
import re
from collections.abc import Sequence

import pygal
from pygal.style import Style

# Colours from the stylesheet's palette (hms/static/css/portal.css): blue, red, teal, amber.
_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#475569",
    foreground_strong="#0f172a",
    foreground_subtle="#e2e8f0",
    guide_stroke_color="#e2e8f0",
    major_guide_stroke_color="#cbd5e1",
    guide_stroke_dasharray="0",
    major_guide_stroke_dasharray="0",
    opacity=".9",
    opacity_hover="1",
    colors=("#1d4ed8", "#b91c1c", "#0f766e", "#b45309"),
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
    value_font_size=12,
    tooltip_font_size=12,
    title_font_size=14,
)

Point = tuple[dt.datetime, float]

# pygal always embeds an inline <script> holding its config for the (disabled) tooltip script; it does
# nothing without that script and a strict CSP would flag it, so it is removed along with comments.
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _date_label(value: dt.datetime) -> str:
    return value.strftime("%b %Y")


def _number_label(value: float) -> str:
    """At most one decimal, no trailing zero: 83.751863 -> "83.8", 120.0 -> "120"."""
    return f"{value:.1f}".removesuffix(".0")


def line_chart_svg(
    *,
    series: Sequence[tuple[str, Sequence[Point]]],
    unit: str,
    width: int = 480,
    height: int = 270,
    x_format: str = "%b %Y",
    y_range: tuple[float, float] | None = None,
) -> str:
    """An inline `<svg>` line chart over time.

    `series`: list of (legend label, points); a point is (aware datetime already in the display time
    zone, value in `unit`). Points may be in any order. Returns SVG markup without an XML declaration and
    without any `<script>`; it scales to its container (viewBox, no fixed size). `x_format`: strftime
    format of the time axis labels (default month and year); `y_range`: fixed (min, max) of the value axis.
    """
    chart = pygal.DateTimeLine(
        js=[],
        disable_xml_declaration=True,
        explicit_size=False,
        width=width,
        height=height,
        style=_STYLE,
        show_legend=len(series) > 1,
        legend_at_bottom=True,
        legend_box_size=10,
        x_value_formatter=_date_label if x_format == "%b %Y" else (lambda v: v.strftime(x_format)),
        value_formatter=_number_label,
        show_minor_x_labels=False,
        x_labels_major_count=4,
        max_scale=6,
        truncate_label=-1,
        show_x_guides=False,
        dots_size=3,
        stroke_style={"width": 2},
        margin=6,
        margin_right=28,
        spacing=8,
        y_title=unit,
        no_data_text="No measurements",
        allow_interruptions=False,
        **({"range": y_range} if y_range else {}),
    )
    for label, points in series:
        chart.add(label, sorted(points, key=lambda p: p[0]))
    svg = chart.render(is_unicode=True)
    return _COMMENT.sub("", _SCRIPT.sub("", svg))
