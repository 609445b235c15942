"""The dashboard's charts, drawn on the server as SVG and inlined in the page
(docs/analytics.md, "Dashboard").

The rules, and who keeps them:

- **Nothing from the internet.** pygal (pinned in requirements.txt) draws the
  lines and bars as SVG text on the server: no script, font or style sheet
  is fetched by the browser, and a chart shows without JavaScript. Its
  interactive script is turned off (`js=[]`) and the one inline `<script>`
  it still writes (its config) is taken out of the tree, as are its
  comments; `chart_svg_check` refuses an SVG that would load anything.
- **Under the Content-Security-Policy.** Styles come from our own files only
  (`style-src 'self'`, loyalty/settings.py). A pygal chart carries its own
  `<style>` (scoped to the chart's id): it gets the page's CSP nonce, and
  the dashboard's views add the nonce to `style-src` for their response
  only (`CHART_CSP`). No script runs.
- **The merchant's colours.** Series are drawn in the program's brand and
  accent colours (ProgramSettings), then shades of the brand colour.
- **Accessible.** Each SVG is `role="img"` with a `<title>` and a `<desc>`
  that says where the chart's table is; every chart has its table view on
  the page (a `<details>`), and that table exports to CSV. The cohort heat
  map is itself an HTML table, each cell shaded by a CSS custom property
  (`--level`, 0 to 1) with its percentage written in it, in dark text
  on a shade light enough to read it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import pygal
from csp.constants import NONCE
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style

# What the dashboard's views add to the policy's style-src (csp_update appends
# to the site's 'self'): their charts' <style> elements carry the request's nonce.
CHART_CSP = {"style-src": [NONCE]}

FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif'
INK = "#1d2327"
MUTED = "#555f66"
WIDTH, HEIGHT = 640, 320
# A horizontal bar chart grows with its bars: this much room for each.
BAR_ROOM = 44
HEX = re.compile(r"#[0-9a-fA-F]{6}")
# The site's own colours (static/css/setia.css), for a program row that has none.
BRAND_DEFAULT, ACCENT_DEFAULT = "#0b6e69", "#f2c14e"

# Anything in a chart that could make the browser fetch or run something.
_UNSAFE = re.compile(r"<script|<\?xml-stylesheet|@import|url\(\s*['\"]?(?!#)|href=\"(?!#)", re.I)


class ChartError(ValueError):
    """A chart would load or run something from outside the page."""


@dataclass(frozen=True)
class Series:
    """One line or set of bars: its name and one value a label (None: no
    value for that label, drawn as a gap, never as 0)."""

    name: str
    values: Sequence[int | Decimal | float | None]


def chart_colours(brand: str, accent: str, count: int) -> tuple[str, ...]:
    """`count` series colours: the brand colour, the accent, then the brand
    colour lightened step by step towards white (each still a #rrggbb)."""
    brand = brand if HEX.fullmatch(brand or "") else BRAND_DEFAULT
    accent = accent if HEX.fullmatch(accent or "") else ACCENT_DEFAULT
    colours = [brand, accent]
    red, green, blue = (int(brand[start : start + 2], 16) for start in (1, 3, 5))
    step = 1
    while len(colours) < count:
        share = min(0.15 * step, 0.75)
        colours.append(
            "#{:02x}{:02x}{:02x}".format(
                *(round(channel + (255 - channel) * share) for channel in (red, green, blue))
            )
        )
        step += 1
    return tuple(colours[: max(count, 1)])


def _style(colours: tuple[str, ...]) -> Style:
    return Style(
        background="transparent",
        plot_background="#ffffff",
        foreground=INK,
        foreground_strong=INK,
        foreground_subtle=MUTED,
        colors=colours,
        font_family=FONT,
        label_font_size=13,
        major_label_font_size=13,
        legend_font_size=14,
        value_font_size=13,
        value_colors=(INK,) * len(colours),
        title_font_size=16,
        opacity=".85",
        opacity_hover="1",
        transition="0ms",
    )


def _number(value: int | Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def chart_svg_check(svg: str) -> str:
    """`svg` unchanged, or ChartError when it holds a script or a reference to
    anything outside itself (a style sheet, an image, a font)."""
    if _UNSAFE.search(svg):
        raise ChartError("a chart must not load or run anything")
    return svg


def _point_titles(root: ET.Element, names: Sequence[str]) -> None:
    """A <title> on each point and bar ("Sales, 3 Dec: 12"): the browser shows
    it on hover without any script, and screen readers read it."""
    for group in root.iter("g"):
        classes = (group.get("class") or "").split()
        index = next(
            (int(c[6:]) for c in classes if c.startswith("serie-") and c[6:].isdigit()), None
        )
        if "series" not in classes or index is None or index >= len(names):
            continue
        for point in group.iter("g"):
            value = point.find("desc[@class='value']")
            if value is None or value.text is None:
                continue
            label = point.find("desc[@class='x_label']")
            tip = ET.Element("title")
            where = f", {label.text}" if label is not None and label.text else ""
            tip.text = f"{names[index]}{where}: {value.text}"
            point.insert(0, tip)


def _inline(
    chart: pygal.graph.graph.Graph,
    *,
    title: str,
    summary: str,
    nonce: str,
    names: Sequence[str] = (),
) -> SafeString:
    """The chart as inline SVG markup: no script, no comment, the <style>
    with `nonce`, a <title> and a <desc> for screen readers, a <title> on
    each point of the series `names`."""
    root = chart.render_tree()
    _point_titles(root, names)
    for parent in list(root.iter()):
        for child in list(parent):
            # pygal's tree names its elements without a namespace (the root
            # carries xmlns as an attribute).
            if child.tag in ("script", ET.Comment, ET.ProcessingInstruction):
                parent.remove(child)
            elif child.tag == "style":
                child.set("nonce", nonce)
    heading = ET.Element("title")
    heading.text = title
    description = ET.Element("desc")
    description.text = summary
    root.insert(0, description)
    root.insert(0, heading)
    root.set("role", "img")
    root.set("focusable", "false")
    markup = ET.tostring(root, encoding="unicode", short_empty_elements=True)
    return mark_safe(chart_svg_check(markup))  # noqa: S308 - pygal's tree, escaped by ElementTree


def _configure(
    chart: pygal.graph.graph.Graph, labels: Sequence[str], series: Sequence[Series]
) -> None:
    chart.x_labels = list(labels)
    for one in series:
        chart.add(one.name, [_number(value) for value in one.values])


def line_chart(
    *,
    title: str,
    summary: str,
    labels: Sequence[str],
    series: Sequence[Series],
    brand: str,
    accent: str,
    nonce: str,
) -> SafeString:
    """A line chart of `series` over `labels` (days, weeks or months), as
    inline SVG. `summary` is its <desc> (say where its table is)."""
    chart = pygal.Line(
        js=[],
        style=_style(chart_colours(brand, accent, len(series))),
        width=WIDTH,
        height=HEIGHT,
        show_dots=len(labels) <= 62,
        dots_size=3,
        x_label_rotation=30 if len(labels) > 8 else 0,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, len(labels) // 8),
        legend_at_bottom=True,
        show_x_guides=False,
        include_x_axis=True,
        allow_interruptions=True,
        disable_xml_declaration=True,
        no_data_text="",
        margin=12,
    )
    _configure(chart, labels, series)
    names = [one.name for one in series]
    return _inline(chart, title=title, summary=summary, nonce=nonce, names=names)


def bar_chart(
    *,
    title: str,
    summary: str,
    labels: Sequence[str],
    series: Sequence[Series],
    brand: str,
    accent: str,
    nonce: str,
    horizontal: bool = False,
) -> SafeString:
    """Bars of `series` by `labels` (tiers, rewards), as inline SVG; long
    names read better `horizontal`."""
    kind = pygal.HorizontalBar if horizontal else pygal.Bar
    chart = kind(
        js=[],
        style=_style(chart_colours(brand, accent, len(series))),
        width=WIDTH,
        height=max(HEIGHT // 2, BAR_ROOM * len(labels) + 80) if horizontal else HEIGHT,
        legend_at_bottom=True,
        show_legend=len(series) > 1,
        print_values=True,
        print_values_position="top",
        print_zeroes=True,
        disable_xml_declaration=True,
        no_data_text="",
        margin=12,
    )
    _configure(chart, labels, series)
    names = [one.name for one in series]
    return _inline(chart, title=title, summary=summary, nonce=nonce, names=names)


@dataclass(frozen=True)
class HeatCell:
    """One cell of the heat map: its value (a fraction 0-1, None for a month
    not reached yet) and its shading level (0 to 1, two decimals)."""

    value: Decimal | None
    level: str


def heat_cells(values: Sequence[Decimal | None]) -> list[HeatCell]:
    """The cells of one row of the cohort heat map. The level is the value
    itself (retention, 0-1), clamped; the CSS mixes the brand colour in at
    most 45 % of the way (`.heat-cell`), so the dark text on it keeps a
    contrast of 4.5:1 whatever the brand colour, black included."""
    cells = []
    for value in values:
        if value is None:
            cells.append(HeatCell(value=None, level="0"))
            continue
        level = min(max(Decimal(value), Decimal(0)), Decimal(1)).quantize(Decimal("0.01"))
        cells.append(HeatCell(value=value, level=str(level)))
    return cells


def colour_style(brand: str, accent: str) -> str:
    """The inline style attribute that gives a chart's surroundings (the heat
    map, the legend swatches) the program's colours as CSS custom
    properties; the colours are validated #rrggbb (ProgramSettings)."""
    return format_html("--chart-brand: {}; --chart-accent: {};", brand, accent)
