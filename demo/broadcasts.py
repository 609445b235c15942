"""The demo's broadcasts (campaigns.broadcasts, layer 4), made by the
marketer: one sent to the champions and loyal regulars, pointing
to a reward, with a share of its messages read; one scheduled for the
festive season to every member, pointing to its campaign. Only members who
accept offers get them, as in production."""

from __future__ import annotations

from datetime import timedelta

from campaigns.broadcasts import (
    broadcast_batch_send,
    broadcast_create,
    broadcast_schedule,
    broadcast_start,
)
from campaigns.models import Broadcast, BroadcastBatch, Campaign
from demo.shop import Shop
from loyalty.models import Notification
from loyalty.notifications import deliveries_off, notification_mark_read
from loyalty.roles import Role
from members.models import Segment
from rewards.models import Reward

# The share of the sent broadcast's messages the members read.
READ_SHARE = 0.4


def broadcasts_create(shop: Shop) -> list[Broadcast]:
    actor = shop.staff[Role.MARKETER]
    reward = Reward.objects.filter(name="Free Kopi O", active=True).first()
    sent = broadcast_create(
        actor=actor,
        title_en="Thank you for being a regular",
        title_ms="Terima kasih kerana menjadi pelanggan tetap",
        body_en="A free kopi is waiting for you: redeem it with your points this week.",
        body_ms="Kopi percuma menanti anda: tebus dengan mata ganjaran anda minggu ini.",
        segment=Segment.objects.filter(name="Champions and loyal regulars").first(),
        reward=reward,
    )
    # Its batches run here, not after the demo's commit, so some of its
    # messages can be read. The demo sends no email.
    with deliveries_off():
        broadcast_start(broadcast_id=sent.pk, actor=actor, now=shop.now)
        for batch_id in BroadcastBatch.objects.filter(broadcast=sent).values_list("pk", flat=True):
            broadcast_batch_send(batch_id=batch_id)
    for notification in Notification.objects.filter(kind="broadcast", event_key=sent.event_key):
        if shop.rng.random() < READ_SHARE:
            notification_mark_read(
                member_id=notification.member_id, notification_id=notification.pk
            )
    festive = Campaign.objects.filter(name__startswith="Festive").first()
    scheduled = broadcast_create(
        actor=actor,
        title_en="Festive gift boxes: triple points",
        title_ms="Kotak hadiah perayaan: mata tiga kali ganda",
        body_en="Order your gift boxes early and earn triple points on them.",
        body_ms="Tempah kotak hadiah anda awal dan dapatkan mata tiga kali ganda.",
        campaign=festive,
    )
    broadcast_schedule(
        actor=actor, broadcast=scheduled, at=shop.now + timedelta(days=24), now=shop.now
    )
    sent.refresh_from_db()
    return [sent, scheduled]
