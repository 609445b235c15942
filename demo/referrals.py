"""The demo's referrals: Aisyah's friends, as the shop's channels would have
recorded them: one joined at the counter three weeks ago and bought enough
at Bangsar (rewarded: 500 points to Aisyah, 200 to her friend), one joined
through Aisyah's share link last week and has not bought yet (joined), and a
second address of Aisyah's own (rejected, self-referral). Wei Ling referred
a colleague who joined yesterday (joined).

The "Bring a friend" campaign runs from two months ago. The demo's sale is
recorded with purchases.services.purchase_record, then told to referrals
through the sale flow (which qualifies the referral in its transaction),
then the settle step after it."""

from __future__ import annotations

from datetime import datetime, timedelta

from campaigns.models import Campaign, Referral, ReferralStatus
from campaigns.referrals import referral_settle
from demo.members import Shopper
from demo.purchases import _line
from demo.shop import Shop
from loyalty.actors import Actor
from members.enrolment import Channel
from members.models import Member
from members.services import member_enrol
from purchases.inputs import SaleInput
from purchases.services import purchase_record


def referrals_create(shop: Shop, *, named: list[Shopper]) -> None:
    now = shop.now
    if not Campaign.objects.filter(kind="referral").exists():
        return
    aisyah, wei_ling = named[0].member, named[1].member
    farah = member_enrol(
        actor=Actor.system(),
        email="farah.aziz@example.com",
        first_name="Farah",
        last_name="Aziz",
        language="ms",
        home_store=shop.stores["bangsar"],
        referral_code=aisyah.referral_code,
        channel=Channel.COUNTER,
        now=now - timedelta(days=21),
    )
    _first_sale(shop, farah, when=now - timedelta(days=19))
    member_enrol(
        actor=Actor.system(),
        email="hafiz.omar@example.com",
        first_name="Hafiz",
        last_name="Omar",
        language="ms",
        referral_code=aisyah.referral_code,
        channel=Channel.PORTAL,
        now=now - timedelta(days=6),
    )
    local, _at, domain = (aisyah.email or "aisyah@example.com").partition("@")
    member_enrol(
        actor=Actor.system(),
        email=f"{local}+promo@{domain}",
        first_name="Aisyah",
        last_name="R.",
        referral_code=aisyah.referral_code,
        channel=Channel.API,
        now=now - timedelta(days=3),
    )
    member_enrol(
        actor=Actor.system(),
        email="daniel.tan@example.com",
        first_name="Daniel",
        last_name="Tan",
        referral_code=wei_ling.referral_code,
        channel=Channel.COUNTER,
        now=now - timedelta(days=1),
    )


def _first_sale(shop: Shop, member: Member, *, when: datetime) -> None:
    """Farah's first visit: drinks for her office (RM35.60), above the minimum."""
    store = "bangsar"
    items = [
        _line(sku, 2) for sku in ("KOPI-O", "WHITE-COFFEE", "TEH-TARIK", "KOPI-C", "KOPI-PENG")
    ]
    recorded = purchase_record(
        sale=SaleInput(
            store=shop.stores[store],
            reference=shop.receipt(store, when),
            member=member,
            occurred_at=when,
            items=items,
        ),
        actor=shop.tills[store],
        now=when,
    )
    shop.purchases += 1
    # The sale qualified the referral; its settling runs after the commit (a
    # task), here at once and at the sale's time (settling twice pays once).
    qualified = Referral.objects.filter(
        purchase_id=recorded.record_id, status=ReferralStatus.QUALIFIED
    ).first()
    if qualified is not None:
        referral_settle(referral_id=qualified.pk, now=when)
