"""What other apps show on the portal's home page, without members importing
them (members sits below them, DESIGN.md §2): an app registers a panel from
its AppConfig.ready, as the ledger checks (members.checks) and the enrolment
hooks (members.enrolment) are registered.

A panel is called as `panel(member, now)` and returns the template to
include and its context, or None to show nothing. Each panel runs its own
few queries; the home page includes them in registration order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from members.models import Member


@dataclass(frozen=True)
class PortalPanel:
    template: str
    context: dict[str, Any]


PortalPanelSource = Callable[["Member", datetime], PortalPanel | None]

portal_home_panels: list[PortalPanelSource] = []


def portal_home_panel_register(panel: PortalPanelSource) -> None:
    if panel not in portal_home_panels:
        portal_home_panels.append(panel)


def portal_home_panels_for(*, member: Member, now: datetime) -> list[PortalPanel]:
    return [shown for panel in portal_home_panels if (shown := panel(member, now)) is not None]
