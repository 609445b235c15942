"""The dashboard's charts (analytics.charts): SVG that loads and runs nothing,
carries the page's nonce on its style, says what it shows, and is drawn in
the program's colours."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from analytics.charts import (
    ChartError,
    Series,
    bar_chart,
    chart_colours,
    chart_svg_check,
    heat_cells,
    line_chart,
)

BRAND, ACCENT = "#123456", "#f2c14e"


def draw_line(**overrides):
    arguments = {
        "title": "Members and sales",
        "summary": "The table below the chart gives the same figures.",
        "labels": ["1 Dec", "2 Dec", "3 Dec"],
        "series": [Series("Members", [1, 2, None]), Series("Sales", [Decimal("3.50"), 0, 2])],
        "brand": BRAND,
        "accent": ACCENT,
        "nonce": "n0nce",
    }
    return line_chart(**{**arguments, **overrides})


def test_a_line_chart_has_no_script_no_comment_and_nothing_from_elsewhere():
    svg = str(draw_line())
    assert svg.startswith("<svg")
    assert "<script" not in svg
    assert "<!--" not in svg
    assert "<?xml" not in svg
    # The only address in it is the SVG namespace.
    assert re.findall(r"https?://[^\"' ]+", svg) == ["http://www.w3.org/2000/svg"]


def test_the_charts_style_carries_the_nonce_so_the_policy_lets_it_apply():
    svg = str(draw_line(nonce="abc123"))
    styles = re.findall(r"<style[^>]*>", svg)
    assert styles and all('nonce="abc123"' in tag for tag in styles)


def test_a_chart_is_an_image_with_its_title_and_description_for_screen_readers():
    svg = str(draw_line())
    assert 'role="img"' in svg
    assert "<title>Members and sales</title>" in svg
    assert "<desc>The table below the chart gives the same figures.</desc>" in svg


def test_a_chart_is_drawn_in_the_programs_brand_and_accent_colours():
    svg = str(draw_line())
    assert BRAND in svg
    assert ACCENT in svg


def test_names_in_a_chart_are_escaped():
    svg = str(
        bar_chart(
            title="<b>Tiers</b>",
            summary="s",
            labels=["Gold & <Silver>"],
            series=[Series("Members", [3])],
            brand=BRAND,
            accent=ACCENT,
            nonce="n",
        )
    )
    assert "<b>" not in svg
    assert "&lt;b&gt;Tiers&lt;/b&gt;" in svg
    assert "Gold &amp; &lt;Silver&gt;" in svg


def test_a_bar_chart_draws_a_bar_of_zero_and_writes_its_value():
    svg = str(
        bar_chart(
            title="Tiers",
            summary="s",
            labels=["Gold", "Silver"],
            series=[Series("Members", [3, 0])],
            brand=BRAND,
            accent=ACCENT,
            nonce="n",
            horizontal=True,
        )
    )
    values = re.findall(r'<text[^>]*class="value[^"]*"[^>]*>([^<]*)</text>', svg)
    assert "3" in values
    assert "0" in values


@pytest.mark.parametrize(
    "markup",
    [
        "<svg><script>alert(1)</script></svg>",
        '<svg><image href="https://example.com/x.png"/></svg>',
        '<svg><style>@import "https://example.com/a.css";</style></svg>',
        "<svg><style>.a{background:url(https://example.com/f.woff)}</style></svg>",
    ],
)
def test_an_svg_that_would_load_or_run_anything_is_refused(markup):
    with pytest.raises(ChartError):
        chart_svg_check(markup)


def test_series_colours_start_with_brand_and_accent_then_lighter_brand_shades():
    colours = chart_colours(BRAND, ACCENT, 4)
    assert colours[:2] == (BRAND, ACCENT)
    assert len(set(colours)) == 4
    assert all(re.fullmatch(r"#[0-9a-f]{6}", colour, re.I) for colour in colours)


def test_a_colour_that_is_not_one_falls_back_to_the_sites_own():
    assert chart_colours("red", "", 2) == ("#0b6e69", "#f2c14e")


def test_heat_cells_shade_by_the_value_and_keep_an_empty_month_empty_not_zero():
    zero, half, full, empty, over = heat_cells(
        [Decimal("0"), Decimal("0.5"), Decimal("1"), None, Decimal("1.7")]
    )
    assert (zero.value, zero.level) == (Decimal("0"), "0.00")
    assert half.level == "0.50"
    assert full.level == "1.00"
    assert empty.value is None
    assert over.level == "1.00"


def test_each_point_and_bar_has_a_title_a_browser_shows_on_hover():
    svg = str(draw_line())
    assert "<title>Members, 1 Dec: 1</title>" in svg
    assert "<title>Sales, 2 Dec: 0</title>" in svg
    bars = str(
        bar_chart(
            title="Tiers",
            summary="s",
            labels=["Gold"],
            series=[Series("Members", [3])],
            brand=BRAND,
            accent=ACCENT,
            nonce="n",
        )
    )
    assert "<title>Members, Gold: 3</title>" in bars
