"""Card images a till can scan: a QR code and a Code 128 barcode, both as
inline SVG. The member card shows both; vouchers and gift cards show their
code as a QR (rewards.portal_views).

Inline SVG (rather than PNG files) needs no Pillow, no storage and no extra
request, scales sharply on any phone screen, and carries its own accessible
name. The output for a given input is deterministic, so pages can be cached
and tests can pin it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import qrcode
import qrcode.image.svg
from barcode import Code128

SVG_NS = "http://www.w3.org/2000/svg"
# Code 128 needs a quiet zone of at least 10 modules each side to scan reliably.
BARCODE_QUIET_ZONE = 10
BARCODE_HEIGHT = 40


def card_number_grouped(card_number: str) -> str:
    """'8812345678901234' -> '8812 3456 7890 1234': easier to read aloud and type."""
    return " ".join(card_number[index : index + 4] for index in range(0, len(card_number), 4))


def _accessible(root: ET.Element, *, label: str, css_class: str) -> str:
    """Name the drawing for screen readers and let CSS size it (no fixed size)."""
    for attribute in ("width", "height", "xmlns"):
        root.attrib.pop(attribute, None)
    root.set("class", css_class)
    root.set("role", "img")
    root.set("aria-label", label)
    root.set("focusable", "false")
    title = ET.Element(f"{{{SVG_NS}}}title")
    title.text = label
    root.insert(0, title)
    markup = ET.tostring(root, encoding="unicode")
    # ElementTree writes whatever prefix was last registered for the SVG
    # namespace (qrcode registers "svg:"); HTML wants plain, unprefixed tags.
    for prefix in re.findall(r'xmlns:(\w+)="' + re.escape(SVG_NS) + '"', markup):
        markup = markup.replace(f"xmlns:{prefix}=", "xmlns=")
        markup = markup.replace(f"<{prefix}:", "<").replace(f"</{prefix}:", "</")
    return markup


def qr_svg(data: str, *, label: str) -> str:
    """A QR code of `data` (medium error correction, so a scratched screen still
    scans) as an inline <svg> named `label`."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=2,
        image_factory=qrcode.image.svg.SvgPathImage,
    )
    code.add_data(data)
    code.make(fit=True)
    root = code.make_image().get_image()
    return _accessible(root, label=label, css_class="code-qr")


def code128_modules(data: str) -> str:
    """The bars of `data` in Code 128 as a string of '1' (bar) and '0' (space)
    modules. python-barcode chooses the code sets, so digits pack two to a symbol."""
    return Code128(data).build()[0]


def code128_svg(data: str, *, label: str) -> str:
    """A Code 128 barcode of `data` as an inline <svg> named `label`: one path of
    unit-wide bars in a viewBox, so it stretches to any width without blurring."""
    modules = code128_modules(data)
    width = len(modules) + 2 * BARCODE_QUIET_ZONE
    bars: list[str] = []
    start = None
    for index, module in enumerate(modules + "0"):
        if module == "1" and start is None:
            start = index
        elif module == "0" and start is not None:
            x = BARCODE_QUIET_ZONE + start
            bars.append(f"M{x},0h{index - start}v{BARCODE_HEIGHT}h-{index - start}z")
            start = None
    root = ET.Element(
        f"{{{SVG_NS}}}svg",
        {
            "viewBox": f"0 0 {width} {BARCODE_HEIGHT}",
            "preserveAspectRatio": "none",
            "shape-rendering": "crispEdges",
        },
    )
    ET.SubElement(
        root,
        f"{{{SVG_NS}}}rect",
        {"width": str(width), "height": str(BARCODE_HEIGHT), "fill": "#fff"},
    )
    ET.SubElement(root, f"{{{SVG_NS}}}path", {"d": "".join(bars), "fill": "#000"})
    return _accessible(root, label=label, css_class="code-barcode")
