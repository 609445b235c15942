"""What the broadcast pages show (campaigns.broadcasts writes them).

A broadcast's figures: `recipients` (its audience when sending started),
`delivered` (inbox entries written: members with consent) and `skipped`
(members without marketing consent, or no longer active) come from the
broadcast's row, which each batch adds to as it commits; `failed` (channel
deliveries, email or push, that failed for good), `sent_by_channel` and
`opened` (entries the member read in the inbox) are read from the
notifications of its event key `broadcast:<id>`, two statements for any
number of broadcasts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import translation

from campaigns.broadcasts import broadcast_context, broadcast_link
from campaigns.models import Broadcast
from loyalty.models import DeliveryStatus, Notification, NotificationDelivery
from loyalty.notifications import broadcast_render


@dataclass
class BroadcastFigures:
    recipients: int = 0
    delivered: int = 0
    skipped: int = 0
    failed: int = 0
    opened: int = 0
    sent_by_channel: dict[str, int] = field(default_factory=dict)

    @property
    def open_rate(self) -> int:
        """Opened as a whole percentage of delivered."""
        return self.opened * 100 // self.delivered if self.delivered else 0


def broadcast_list() -> QuerySet[Broadcast]:
    return Broadcast.objects.select_related("segment", "created_by").order_by("-created_at", "-id")


def broadcast_figures(*, broadcasts: Iterable[Broadcast]) -> dict[int, BroadcastFigures]:
    """{broadcast id: figures} for the given broadcasts."""
    by_key = {broadcast.event_key: broadcast for broadcast in broadcasts}
    figures = {
        broadcast.pk: BroadcastFigures(
            recipients=broadcast.recipients,
            delivered=broadcast.delivered,
            skipped=broadcast.skipped,
        )
        for broadcast in by_key.values()
    }
    started = [key for key, broadcast in by_key.items() if broadcast.started_at is not None]
    if not started:
        return figures
    opened = (
        Notification.objects.filter(kind="broadcast", event_key__in=started)
        .values("event_key")
        .annotate(opened=Count("pk", filter=Q(read_at__isnull=False)))
    )
    for row in opened:
        figures[by_key[row["event_key"]].pk].opened = row["opened"]
    deliveries = (
        NotificationDelivery.objects.filter(
            notification__kind="broadcast", notification__event_key__in=started
        )
        .values("notification__event_key", "channel", "status")
        .annotate(count=Count("pk"))
    )
    for row in deliveries:
        figure = figures[by_key[row["notification__event_key"]].pk]
        if row["status"] == DeliveryStatus.FAILED:
            figure.failed += row["count"]
        elif row["status"] == DeliveryStatus.SENT:
            figure.sent_by_channel[row["channel"]] = (
                figure.sent_by_channel.get(row["channel"], 0) + row["count"]
            )
    return figures


def broadcast_preview(broadcast: Broadcast, language: str) -> dict[str, Any]:
    """The inbox entry as a member reading `language` will see it: the
    texts `notify` would write (the same renderer), the link and picture."""
    context = broadcast_context(broadcast)
    with translation.override(language):
        title, body = broadcast_render(context, language)
    return {
        "language": language,
        "title": title,
        "body": body,
        "link": broadcast_link(broadcast),
        "image": context.get("image", ""),
        "fallback": language != "en" and not (broadcast.title_ms and broadcast.body_ms),
    }
