"""The demo's rewards (the rewards app, layer 3): the catalogue, with no start
date so the whole history can redeem from it; now and then a member redeems after a
visit and uses the voucher on a later one (or forgets it); and each named
member holds a fresh voucher."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from demo.members import Shopper
from demo.shop import Shop
from loyalty.actors import Actor
from loyalty.roles import Role
from members.models import Member, PointsAccount, Tier
from members.points import points_adjust
from rewards.errors import LimitReached, RewardUnavailable
from rewards.models import Reward, RewardKind, Voucher, VoucherStatus
from rewards.services import redemption_create, reward_category_create, reward_create, voucher_use

CATEGORIES = (
    ("food-drinks", "Food & drinks"),
    ("discounts", "Discounts"),
    ("merchandise", "Merchandise"),
    ("experiences", "Experiences"),
    ("gift-cards", "Gift cards"),
    ("give-back", "Give back"),
)
# name, kind, category, points, value, extra fields
REWARDS: tuple[tuple[str, str, str, int, str | None, dict], ...] = (
    ("Free Kopi O", RewardKind.FREE_PRODUCT, "food-drinks", 150, "2.80",
     {"sku": "KOPI-O", "featured": True, "voucher_valid_days": 30,
      "description": "A cup of our house kopi, hot or iced, at any branch."}),
    ("Free Kaya Butter Toast", RewardKind.FREE_PRODUCT, "food-drinks", 220, "4.50",
     {"sku": "KAYA-TOAST", "voucher_valid_days": 30,
      "description": "Charcoal-toasted bread with Nyonya kaya and cold butter."}),
    ("Free Milo Dinosaur", RewardKind.FREE_PRODUCT, "food-drinks", 300, "6.50",
     {"sku": "MILO-DINO", "voucher_valid_days": 30,
      "description": "Iced Milo buried under a mountain of Milo powder."}),
    ("Free Nasi Lemak Ayam Rendang", RewardKind.FREE_PRODUCT, "food-drinks", 600, "13.90",
     {"sku": "NASI-LEMAK-RENDANG", "voucher_valid_days": 45,
      "description": "Coconut rice, sambal, egg, peanuts and slow-cooked chicken rendang."}),
    ("RM5 off your bill", RewardKind.DISCOUNT_FIXED, "discounts", 400, "5.00",
     {"voucher_valid_days": 60, "featured": True,
      "description": "Take RM5 off any bill of RM10 or more."}),
    ("RM15 off your bill", RewardKind.DISCOUNT_FIXED, "discounts", 1100, "15.00",
     {"voucher_valid_days": 60, "description": "Take RM15 off any bill of RM60 or more."}),
    ("10% off coffee beans", RewardKind.DISCOUNT_PERCENT, "discounts", 500, "10",
     {"voucher_valid_days": 60, "description": "On any bag of our beans or kopi powder."}),
    ("20% off a festive gift box", RewardKind.DISCOUNT_PERCENT, "discounts", 1500, "20",
     {"voucher_valid_days": 90, "per_member_limit": 1, "tiers": ("silver", "gold"),
      "description": "For Silver and Gold members: one festive box, one voucher a year."}),
    ("Setia enamel mug", RewardKind.FREE_PRODUCT, "merchandise", 2200, "29.00",
     {"sku": "MUG-ENAMEL", "stock": 40, "voucher_valid_days": 60,
      "description": "The classic white-and-blue kopitiam mug."}),
    ("Batik tote bag", RewardKind.FREE_PRODUCT, "merchandise", 3200, "45.00",
     {"sku": "TOTE-BATIK", "stock": 25, "voucher_valid_days": 60,
      "description": "Hand-stamped batik from a Kelantan workshop."}),
    ("Coffee cupping workshop", RewardKind.EXPERIENCE, "experiences", 2500, "60.00",
     {"stock": 12, "per_member_limit": 1, "voucher_valid_days": 45,
      "description": "Taste five Malaysian coffees with our roaster at Bangsar."}),
    ("Latte art class for two", RewardKind.EXPERIENCE, "experiences", 3800, "90.00",
     {"stock": 8, "per_member_limit": 1, "voucher_valid_days": 60, "tiers": ("gold",),
      "description": "For Gold members: an evening with our head barista."}),
    ("RM20 Setia gift card", RewardKind.GIFT_CARD, "gift-cards", 1800, "20.00",
     {"description": "A gift card for someone you like; spend it at any branch."}),
    ("RM50 Setia gift card", RewardKind.GIFT_CARD, "gift-cards", 4200, "50.00",
     {"tiers": ("silver", "gold"), "description": "For Silver and Gold members."}),
    ("Meals for Food Aid Foundation", RewardKind.DONATION, "give-back", 500, None,
     {"cause": "Food Aid Foundation",
      "description": "500 points fund a hot meal for a family in need; we match every gift."}),
    ("Plant a tree with MNS", RewardKind.DONATION, "give-back", 200, None,
     {"cause": "Malaysian Nature Society",
      "description": "200 points plant a native seedling in Selangor's forest reserves."}),
)  # fmt: skip


def catalogue_create(actor: Actor) -> list[Reward]:
    """The categories and the rewards of the catalogue, in display order."""
    categories = {
        slug: reward_category_create(actor=actor, name=name, slug=slug, position=index)
        for index, (slug, name) in enumerate(CATEGORIES)
    }
    tiers = {tier.code: tier for tier in Tier.objects.all()}
    rewards = []
    for position, (name, kind, category, points, value, extra) in enumerate(REWARDS):
        fields = dict(extra)
        audience = [tiers[code] for code in fields.pop("tiers", ())]
        rewards.append(
            reward_create(
                actor=actor,
                tiers=audience,
                name=name,
                kind=kind,
                category=categories[category],
                points_cost=points,
                value=Decimal(value) if value else None,
                position=position,
                **fields,
            )
        )
    return rewards


def redeem(shop: Shop, shopper: Shopper, store: str, when: datetime) -> None:
    """Now and then a member spends points on a reward they can afford; most
    vouchers are used on a later visit, some are forgotten and expire."""
    if when >= shop.now:
        return
    member = shopper.member
    balance = PointsAccount.objects.values_list("balance", flat=True).get(member=member)
    affordable = [reward for reward in shop.rewards if reward.points_cost <= balance]
    if not affordable:
        return
    reward = shop.rng.choice(affordable)
    try:
        # In the portal if they have a login, else asked for at the counter.
        actor = Actor(user=member.user) if member.user_id else shop.staff[Role.STORE_STAFF]
        redemption = redemption_create(member=member, reward=reward, actor=actor, now=when)
    except (RewardUnavailable, LimitReached):
        return  # not for their tier, out of stock or already had: they pick nothing
    shop.redemptions += 1
    if shop.rng.random() < 0.75:
        use_at = when + timedelta(days=shop.rng.randint(1, 25), hours=shop.rng.randint(0, 8))
        codes = Voucher.objects.filter(redemption=redemption).values_list("code", flat=True)
        for code in codes:
            shop.at(use_at, _voucher_use(shop, code, member, store))


def fresh_vouchers(shop: Shop, shoppers: list[Shopper]) -> None:
    """The named members redeemed a coffee two days ago and have not used it
    yet, so their portal shows a live voucher."""
    coffee = next(reward for reward in shop.rewards if reward.sku == "KOPI-O")
    when = shop.now - timedelta(days=2)
    for shopper in shoppers:
        balance = PointsAccount.objects.values_list("balance", flat=True).get(member=shopper.member)
        if balance < coffee.points_cost:
            # Short of it (the year's draw was lean): the manager tops them up.
            points_adjust(
                actor=shop.staff[Role.MANAGER],
                member=shopper.member,
                points=coffee.points_cost - balance,
                reason="Goodwill: a coffee on us",
                now=when - timedelta(minutes=5),
            )
        redemption_create(
            member=shopper.member,
            reward=coffee,
            actor=Actor(user=shopper.member.user),
            now=when,
        )
        shop.redemptions += 1


def _voucher_use(shop: Shop, code: str, member: Member, store: str) -> Callable[[datetime], None]:
    """The voucher used at the till on the member's next visit, unless it expired meanwhile."""

    def use(when: datetime) -> None:
        if not Voucher.objects.filter(code=code, status=VoucherStatus.ISSUED).exists():
            return
        voucher_use(
            code=code,
            actor=shop.tills[store],
            member=member,
            purchase_reference=shop.receipt(store, when),
            store=shop.stores[store],
            now=when,
        )

    return use
