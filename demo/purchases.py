"""The demo's sales and returns (the purchases app, layer 5): what the kopitiam sells,
what one visit buys, each visit recorded as its store's till would (paying
with points now and then, redeeming a reward after some), and a few items
brought back days later."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from demo import rewards
from demo.members import Shopper, at_hour, visit_kind
from demo.shop import Shop
from loyalty.roles import Role
from members.models import PointsAccount
from purchases.inputs import LineInput, SaleInput
from purchases.models import Purchase
from purchases.returns import ReturnItem, purchase_return
from purchases.services import purchase_record

# --- The catalogue: sku -> (name, category, price in RM, earns points) -------------------------

CATALOGUE: dict[str, tuple[str, str, str, bool]] = {
    "KOPI-O": ("Kopi O", "drinks", "2.80", True),
    "KOPI-C": ("Kopi C", "drinks", "3.20", True),
    "KOPI-PENG": ("Kopi Peng", "drinks", "3.80", True),
    "WHITE-COFFEE": ("Ipoh White Coffee", "drinks", "4.50", True),
    "TEH-TARIK": ("Teh Tarik", "drinks", "3.50", True),
    "TEH-O-LIMAU": ("Teh O Ais Limau", "drinks", "3.50", True),
    "CHAM": ("Cham (kopi + teh)", "drinks", "4.00", True),
    "MILO-DINO": ("Milo Dinosaur", "drinks", "6.50", True),
    "GULA-LATTE": ("Gula Melaka Latte", "drinks", "12.90", True),
    "KAYA-TOAST": ("Kaya Butter Toast", "food", "4.50", True),
    "HALF-BOILED": ("Half-boiled Eggs (2)", "food", "3.50", True),
    "BREAKFAST-SET": ("Breakfast Set (toast, eggs, kopi)", "food", "9.90", True),
    "NASI-LEMAK": ("Nasi Lemak Biasa", "food", "6.50", True),
    "NASI-LEMAK-RENDANG": ("Nasi Lemak Ayam Rendang", "food", "13.90", True),
    "MEE-SIAM": ("Mee Siam", "food", "9.90", True),
    "CURRY-MEE": ("Curry Mee", "food", "11.90", True),
    "CURRY-PUFF": ("Curry Puff", "pastries", "2.50", True),
    "EGG-TART": ("Egg Tart", "pastries", "3.20", True),
    "PANDAN-CHIFFON": ("Pandan Chiffon (slice)", "pastries", "6.90", True),
    "KUIH-ONDE": ("Onde-onde (6 pcs)", "pastries", "5.00", True),
    "BEANS-HOUSE": ("House Blend Beans 250 g", "beans", "32.00", True),
    "BEANS-LIBERICA": ("Johor Liberica Beans 250 g", "beans", "42.00", True),
    "KOPI-POWDER": ("Traditional Kopi Powder 500 g", "beans", "18.50", True),
    "KAYA-JAR": ("Nyonya Kaya 300 g", "pantry", "16.90", True),
    "MUG-ENAMEL": ("Enamel Mug", "merchandise", "29.00", True),
    "TUMBLER": ("Setia Tumbler 500 ml", "merchandise", "59.00", True),
    "TOTE-BATIK": ("Batik Tote Bag", "merchandise", "45.00", True),
    "GIFT-COFFEE": ("Coffee Lover's Gift Box", "gift boxes", "88.00", True),
    "GIFT-CNY": ("Chinese New Year Hamper", "gift boxes", "168.00", True),
    "GIFT-RAYA": ("Hari Raya Gift Box", "gift boxes", "128.00", True),
    "GIFT-DEEPAVALI": ("Deepavali Gift Box", "gift boxes", "118.00", True),
    "GIFT-XMAS": ("Christmas Gift Box", "gift boxes", "108.00", True),
    # The plastic-bag levy is collected, not sold: it earns nothing.
    "BAG": ("Carrier bag", "levy", "0.20", False),
}
DRINKS = ("KOPI-O", "KOPI-C", "KOPI-PENG", "WHITE-COFFEE", "TEH-TARIK", "TEH-O-LIMAU", "CHAM")
DRINK_WEIGHTS = (14, 12, 10, 9, 16, 8, 5)
BREAKFAST = ("KAYA-TOAST", "HALF-BOILED", "BREAKFAST-SET")
LUNCH = ("NASI-LEMAK", "NASI-LEMAK-RENDANG", "MEE-SIAM", "CURRY-MEE")
PASTRIES = ("CURRY-PUFF", "EGG-TART", "PANDAN-CHIFFON", "KUIH-ONDE")
RETAIL = ("BEANS-HOUSE", "BEANS-LIBERICA", "KOPI-POWDER", "KAYA-JAR", "MUG-ENAMEL", "TUMBLER")
RETAIL_WEIGHTS = (10, 5, 8, 8, 3, 2)
# Festive boxes by month (approximately: the festivals move a little each year).
FESTIVE_BOX = {1: "GIFT-CNY", 2: "GIFT-CNY", 3: "GIFT-RAYA", 4: "GIFT-RAYA"}
FESTIVE_BOX.update({10: "GIFT-DEEPAVALI", 11: "GIFT-DEEPAVALI", 12: "GIFT-XMAS"})


# --- Baskets -------------------------------------------------------------------------------------


def _line(sku: str, quantity: int) -> LineInput:
    name, category, price, earns = CATALOGUE[sku]
    return LineInput(
        sku=sku,
        quantity=quantity,
        unit_price=Decimal(price),
        name=name,
        category=category,
        earns=earns,
    )


def _basket(rng: random.Random, kind: str, month: int) -> list[LineInput]:
    """What one visit buys: a few skus and their quantities, merged by sku."""
    picked: list[str] = []
    people = rng.choices((1, 2, 3, 4), weights=(55, 30, 10, 5))[0]

    def drink() -> str:
        return rng.choices(DRINKS, weights=DRINK_WEIGHTS)[0]

    if kind == "breakfast":
        for _person_index in range(people):
            picked += [drink(), rng.choice(BREAKFAST)]
            if rng.random() < 0.2:
                picked.append(rng.choice(PASTRIES))
    elif kind == "lunch":
        for _person_index in range(people):
            picked += [rng.choice(LUNCH), drink()]
    elif kind == "tea":
        for _person_index in range(people):
            picked.append("MILO-DINO" if rng.random() < 0.15 else drink())
            picked += rng.choices(PASTRIES, k=rng.randint(1, 2))
    elif kind == "takeaway":
        picked += ["GULA-LATTE" if rng.random() < 0.2 else drink() for _ in range(people)]
    elif kind == "retail":
        picked += rng.choices(RETAIL, weights=RETAIL_WEIGHTS, k=rng.randint(1, 2))
        if rng.random() < 0.15:
            picked.append("TOTE-BATIK")
        if rng.random() < 0.5:
            picked.append(drink())
    else:
        box = FESTIVE_BOX.get(month, "GIFT-COFFEE") if rng.random() < 0.8 else "GIFT-COFFEE"
        picked += [box] * rng.choices((1, 2, 3, 10), weights=(60, 25, 12, 3))[0]
    if kind in {"retail", "gift"} and rng.random() < 0.5:
        picked.append("BAG")
    counts: dict[str, int] = {}
    for sku in picked:
        counts[sku] = counts.get(sku, 0) + 1
    return [_line(sku, quantity) for sku, quantity in counts.items()]


# --- Visits --------------------------------------------------------------------------------------


def visits_schedule(shop: Shop, shoppers: list[Shopper]) -> None:
    """Each shopper's visits on the timeline, each of a kind drawn from their habits."""
    for shopper in shoppers:
        for index, day in enumerate(shopper.visits):
            kind = visit_kind(shop.rng, shopper.visit_weights)
            when = at_hour(shop.rng, day, kind)
            if index == 0:
                # They joined at the counter on their first visit.
                when = max(when, shopper.member.joined_at + timedelta(minutes=2))
            shop.at(when, _visit(shop, shopper, kind, index))


def _visit(shop: Shop, shopper: Shopper, kind: str, index: int) -> Callable[[datetime], None]:
    """A sale, mostly at the shopper's home store, and now and then a reward redeemed after it."""

    def visit(when: datetime) -> None:
        store = shopper.home
        if shop.rng.random() < 0.12:
            store = shop.rng.choice([code for code in shop.stores if code != shopper.home])
        # Each named member brings back something bought on their fifth visit.
        _sale(shop, shopper, store, kind, when, named_return=shopper.named and index == 4)
        if shop.rng.random() < (0.12 if shopper.named else 0.05):
            # Queued like every other move, so its entry sits in time order
            # with a visit that comes in the meantime.
            later = when + timedelta(minutes=shop.rng.randint(5, 90))
            shop.at(later, lambda moment: rewards.redeem(shop, shopper, store, moment))

    return visit


def _sale(
    shop: Shop, shopper: Shopper, store: str, kind: str, when: datetime, *, named_return: bool
) -> None:
    """The visit's basket recorded by the store's till, some of it paid with
    points when the shopper likes to; beans and merchandise come back now and then."""
    member = shopper.member
    items = _basket(shop.rng, "retail" if named_return else kind, timezone.localtime(when).month)
    total = sum((item.unit_price * item.quantity for item in items), Decimal("0"))
    points = 0
    if shop.rng.random() < shopper.pays_with_points:
        balance = PointsAccount.objects.values_list("balance", flat=True).get(member=member)
        points = min(balance, int(total * 100), 1500) // 100 * 100
    reference = shop.receipt(store, when)
    recorded = purchase_record(
        sale=SaleInput(
            store=shop.stores[store],
            reference=reference,
            member=member,
            occurred_at=when,
            items=items,
            points_to_redeem=points,
        ),
        actor=shop.tills[store],
        now=when,
    )
    shop.purchases += 1
    returnable = [item for item in items if item.category in {"beans", "merchandise", "pantry"}]
    if returnable and (named_return or shop.rng.random() < 0.06):
        item = max(returnable, key=lambda line: line.unit_price)
        back = when + timedelta(days=shop.rng.randint(1, 6), hours=shop.rng.randint(1, 5))
        shop.at(back, _return(shop, recorded.record_id, reference, store, item.sku))


def _return(
    shop: Shop, purchase_id: int, reference: str, store: str, sku: str
) -> Callable[[datetime], None]:
    """One unit of `sku` of the sale brought back, at the counter."""

    def give_back(when: datetime) -> None:
        purchase_return(
            purchase=Purchase.objects.get(pk=purchase_id),
            reference=f"R-{reference}",
            actor=shop.staff[Role.STORE_STAFF],
            items=[ReturnItem(sku=sku, quantity=1)],
            now=when,
        )
        shop.returns += 1

    return give_back
