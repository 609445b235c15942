"""The built-in badge icons: our own SVGs in static/img/badges/<key>.svg.

Each file draws its picture in a `<g id="icon">` stroked and tinted with
`currentColor`, so a page shows it in the colour of the text around it with
`<use href=".../<key>.svg#icon">` (templates/partials/badge_icon.html); opened
on its own, the file shows it in black. A marketer picks one of these keys
or uploads a picture of their own.
"""

from __future__ import annotations

from django.templatetags.static import static
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

BUILT_IN_BADGE_ICONS: dict[str, Promise] = {
    "star": _("Star"),
    "flame": _("Flame"),
    "trophy": _("Trophy"),
    "medal": _("Medal"),
    "crown": _("Crown"),
    "heart": _("Heart"),
    "coffee": _("Coffee cup"),
    "bag": _("Shopping bag"),
    "map": _("Map"),
    "rocket": _("Rocket"),
    "gift": _("Gift"),
    "diamond": _("Diamond"),
}


def badge_icon_url(*, key: str) -> str:
    """The static URL of a built-in icon's SVG. Raises KeyError for a key
    that is not one of BUILT_IN_BADGE_ICONS."""
    if key not in BUILT_IN_BADGE_ICONS:
        raise KeyError(key)
    return static(f"img/badges/{key}.svg")
