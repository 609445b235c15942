"""Demo data for `make run`: a believable shop, loaded once.

Like `urls.py` and `settings.py`, this module is wiring: it may call the
services of every app. It writes only through services, so demo data obeys
the same rules as real data. Each feature issue grows it.

The shop is a kopitiam and lifestyle store with three branches. About two
hundred members with Malaysian names joined over the past fourteen months;
their visits are replayed in time order through the same services the tills
use (backdated `occurred_at`), with the scheduled jobs run every night of the
replay and once more as of now, so balances, expiry, tiers and history agree.
Everything is drawn from one `random.Random(seed)`: the same seed on the same
day gives the same shop (card numbers and ids stay random, as in production).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from loyalty.actors import Actor
from loyalty.jobs import job_registry
from loyalty.models import ApiScope, Store, TierBasis, User
from loyalty.roles import Role
from loyalty.services import (
    api_key_create,
    program_settings_update,
    staff_user_create,
    store_create,
)
from members.models import Member, PointsAccount, Tier
from members.services import member_enrol, member_register, points_adjust, tier_create
from purchases.models import Purchase
from purchases.returns import ReturnItem, purchase_return
from purchases.services import LineInput, SaleInput, purchase_record
from rewards.errors import LimitReached, RewardUnavailable
from rewards.models import Reward, RewardKind, Voucher, VoucherStatus
from rewards.services import redemption_create, reward_category_create, reward_create, voucher_use

DEMO_PASSWORD = "setia-demo-2026"  # noqa: S105 - printed for the demo logins on purpose
DEFAULT_MEMBERS = 200
DEFAULT_SEED = 2026
HISTORY_DAYS = 420  # members joined over the past ~14 months
NIGHTLY_JOBS = ("release_pending", "expire_points", "review_tiers", "expire_vouchers")


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str = DEMO_PASSWORD


DEMO_LOGINS = (
    DemoLogin("Manager", "manager@setia.example"),
    DemoLogin("Marketer", "marketer@setia.example"),
    DemoLogin("Store staff", "staff@setia.example"),
    DemoLogin("Member", "aisyah@setia.example"),
    DemoLogin("Member", "weiling@setia.example"),
)

STORES = (
    (
        "bangsar",
        "Kedai Setia Bangsar",
        "12 Jalan Telawi 3, Bangsar Baru, 59100 Kuala Lumpur",
        "+60 3-2282 1200",
    ),
    (
        "mid-valley",
        "Kedai Setia Mid Valley",
        "LG-041 Mid Valley Megamall, 59200 Kuala Lumpur",
        "+60 3-2938 3300",
    ),
    (
        "penang",
        "Kedai Setia Gurney",
        "170-G-12 Gurney Plaza, 10250 George Town, Penang",
        "+60 4-228 4400",
    ),
)
RECEIPT_PREFIX = {"bangsar": "BGS", "mid-valley": "MVM", "penang": "GNY"}
HOME_STORE_WEIGHTS = {"bangsar": 45, "mid-valley": 35, "penang": 20}

# code, name, spend threshold (RM over 365 days), multiplier, benefits, colour
TIERS = (
    ("bronze", "Bronze", "0", "1.00", "1 point for every RM1.", "#a56a43"),
    (
        "silver",
        "Silver",
        "1200",
        "1.25",
        "1.25 points for every RM1; a free kaya toast on your birthday.",
        "#7d8791",
    ),
    (
        "gold",
        "Gold",
        "2500",
        "1.50",
        "1.5 points for every RM1; free upsize on every drink; early access to festive boxes.",
        "#b8901f",
    ),
)

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

# Kinds of visit, with the hours (start, end) they happen in.
VISIT_HOURS = {
    "breakfast": (7.5, 10.5),
    "lunch": (12.0, 14.5),
    "tea": (15.0, 18.0),
    "takeaway": (7.5, 19.0),
    "retail": (10.0, 21.0),
    "gift": (11.0, 21.0),
}

# Frequency profiles: share of members, mean days between visits.
PROFILES = {
    "weekly": (15, 6.0),
    "frequent": (25, 13.0),
    "occasional": (30, 32.0),
    "rare": (15, 80.0),
    "lapsed": (15, 12.0),
}

ADJUSTMENT_REASONS_UP = (
    "Goodwill: long wait at the counter during the lunch rush",
    "Receipt scanned without the card; points added by hand",
    "Apology for a wrong order",
    "Thank you for reporting a faulty card reader",
)
ADJUSTMENT_REASONS_DOWN = ("Receipt entered twice by the till",)

# --- The rewards catalogue -----------------------------------------------------------------------

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

# --- Names ----------------------------------------------------------------------------------------

MALAY_MEN = (
    "Ahmad", "Muhammad Hafiz", "Amirul", "Faizal", "Khairul", "Syafiq", "Azman", "Ikhwan",
    "Haziq", "Zulkifli", "Hakim", "Firdaus", "Irfan", "Danial", "Shahrul", "Aiman",
)  # fmt: skip
MALAY_WOMEN = (
    "Nurul Ain", "Siti Aminah", "Nur Izzati", "Farah", "Hanis", "Sofea", "Nabila", "Amira",
    "Syazwani", "Liyana", "Aina", "Nadia", "Fatimah", "Zulaikha", "Hidayah", "Balqis",
)  # fmt: skip
MALAY_FATHERS = (
    "Ismail", "Hassan", "Abdullah", "Rahman", "Osman", "Yusof", "Ibrahim", "Razak", "Hamid",
    "Salleh", "Aziz", "Kamarudin", "Zainal", "Mohd Noor", "Jamaluddin", "Ariffin",
)  # fmt: skip
CHINESE_SURNAMES = (
    "Tan", "Lim", "Lee", "Ng", "Wong", "Chan", "Ong", "Goh", "Teh", "Chong", "Yap", "Ooi",
    "Khoo", "Cheah", "Loh", "Lau", "Foo", "Chin",
)  # fmt: skip
CHINESE_GIVEN = (
    "Wei Jie", "Mei Ling", "Jia Hui", "Kok Leong", "Siew Mei", "Chee Keong", "Hui Min", "Jun Hao",
    "Xin Yi", "Boon Huat", "Kah Mun", "Zi Xuan", "Yee Ling", "Kian Seng", "Pei Shan", "Wai Kit",
    "Jason", "Michelle", "Kelvin", "Jasmine", "Eugene", "Vivian",
)  # fmt: skip
INDIAN_MEN = (
    "Arjun", "Suresh", "Vikram", "Karthik", "Prakash", "Dinesh", "Ganesh", "Rajesh",
    "Thinesh", "Naveen", "Hari", "Mohan",
)  # fmt: skip
INDIAN_WOMEN = (
    "Priya", "Kavitha", "Deepa", "Lakshmi", "Anitha", "Shalini", "Revathi", "Meena",
    "Sangeetha", "Nisha", "Divya", "Thilaga",
)  # fmt: skip
INDIAN_FATHERS = (
    "Subramaniam", "Muthu", "Raman", "Krishnan", "Velu", "Arumugam", "Gopal", "Perumal",
    "Sivalingam", "Nadarajah",
)  # fmt: skip
INDIAN_FAMILY = ("Pillai", "Nair", "Menon", "Singh", "Kaur", "Das")
# Eurasian, Sabahan, Sarawakian and mixed-heritage names.
OTHER_NAMES = (
    ("Daniel", "Fernandez"), ("Sarah", "anak Jimbun"), ("Adrian", "De Souza"),
    ("Joanna", "Pereira"), ("Nicholas", "Gomez"), ("Marissa", "Sipaun"), ("Jeremy", "Majuki"),
    ("Stephanie", "Lingam Tan"), ("Aaron", "Abdullah Lee"), ("Rachel", "Danker"),
    ("Gerald", "anak Ngumbang"), ("Felicia", "Chong Gimbang"), ("Ian", "Rozario"),
    ("Natasha", "Sta Maria"),
)  # fmt: skip
PHONE_PREFIXES = ("012", "013", "014", "016", "017", "018", "019", "011")
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "example.com.my")


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    language: str


def _person(rng: random.Random) -> Person:
    """A Malaysian name; Malay speakers more often pick Bahasa Melayu (about a third overall)."""
    group = rng.choices(("malay", "chinese", "indian", "other"), weights=(45, 30, 15, 10))[0]
    man = rng.random() < 0.5
    if group == "malay":
        first = rng.choice(MALAY_MEN if man else MALAY_WOMEN)
        last = f"{'bin' if man else 'binti'} {rng.choice(MALAY_FATHERS)}"
        language = "ms" if rng.random() < 0.6 else "en"
    elif group == "chinese":
        first, last = rng.choice(CHINESE_GIVEN), rng.choice(CHINESE_SURNAMES)
        language = "ms" if rng.random() < 0.1 else "en"
    elif group == "indian":
        first = rng.choice(INDIAN_MEN if man else INDIAN_WOMEN)
        if rng.random() < 0.6:
            last = f"{'a/l' if man else 'a/p'} {rng.choice(INDIAN_FATHERS)}"
        else:
            last = rng.choice(INDIAN_FAMILY)
        language = "ms" if rng.random() < 0.15 else "en"
    else:
        first, last = rng.choice(OTHER_NAMES)
        language = "ms" if rng.random() < 0.3 else "en"
    return Person(first, last, language)


def _email_local(person: Person) -> str:
    words = f"{person.first_name} {person.last_name}".lower().replace("/", " ").split()
    return ".".join(w for w in words if w not in {"bin", "binti", "a", "l", "p", "anak"})


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


# --- Shoppers and their visits -------------------------------------------------------------------


@dataclass
class Shopper:
    member: Member
    home: str
    profile: str
    visit_weights: dict[str, int]
    pays_with_points: float  # chance to pay with points at a visit, once there are enough
    named: bool = False
    visits: list[datetime] = field(default_factory=list)


def _visit_weights(rng: random.Random) -> dict[str, int]:
    weights = {"breakfast": 30, "lunch": 25, "tea": 15, "takeaway": 25, "retail": 6, "gift": 2}
    favourite = rng.choice(list(weights))
    weights[favourite] *= 3 if favourite in {"retail", "gift"} else 2
    return weights


def _visit_times(
    rng: random.Random, *, profile: str, joined: datetime, until: datetime
) -> list[datetime]:
    """Visit days from joining (the first visit is the one they joined at) until
    `until`, or until they lapse; times are set per visit kind later."""
    mean_gap = PROFILES[profile][1] * rng.uniform(0.7, 1.3)
    stop = until
    if profile == "lapsed":
        stop = min(until, joined + timedelta(days=rng.randint(45, 220)))
    times, current = [], joined
    while current < stop:
        times.append(current)
        current += timedelta(days=max(0.6, rng.expovariate(1 / mean_gap)))
    return times


def _at(rng: random.Random, day: datetime, kind: str) -> datetime:
    start, end = VISIT_HOURS[kind]
    hours = rng.uniform(start, end)
    local = timezone.localtime(day)
    moment = datetime.combine(local.date(), time(0, 0), tzinfo=local.tzinfo)
    return moment + timedelta(hours=hours, seconds=rng.randint(0, 59))


# --- The loader ----------------------------------------------------------------------------------


def demo_is_loaded() -> bool:
    return User.objects.filter(email=DEMO_LOGINS[0].email).exists()


@dataclass(frozen=True)
class DemoSummary:
    members: int
    purchases: int
    returns: int
    adjustments: int
    redemptions: int


@transaction.atomic
def demo_load(
    *, members: int = DEFAULT_MEMBERS, seed: int = DEFAULT_SEED, now: datetime | None = None
) -> DemoSummary | None:
    """Load the demo shop unless it is there already: stores, program, tiers,
    staff logins, the two named members and `members` more, and about a year
    of their purchases, returns and corrections. Returns None if it was loaded
    already, else what it added."""
    if demo_is_loaded():
        return None
    now = now or timezone.now()
    rng = random.Random(seed)  # noqa: S311 - the demo must repeat, not be secret
    actor = Actor.system()
    stores = _stores_and_program(actor)
    staff = _staff(actor)
    _tiers(actor)
    rewards = _rewards(actor)
    tills = {
        code: Actor(
            api_key=api_key_create(
                actor=actor, name=f"Till {store.name}", scopes=[ApiScope.POS], store=store
            ).api_key
        )
        for code, store in stores.items()
    }
    shoppers = _named_shoppers(rng, now=now, stores=stores)
    shoppers += _shoppers(rng, count=members, now=now, stores=stores)
    replay = Replay(rng=rng, now=now, stores=stores, tills=tills, staff=staff, rewards=rewards)
    replay.run(shoppers)
    replay.fresh_vouchers([shopper for shopper in shoppers if shopper.named])
    return DemoSummary(
        members=len(shoppers),
        purchases=replay.purchases,
        returns=replay.returns,
        adjustments=replay.adjustments,
        redemptions=replay.redemptions,
    )


def _stores_and_program(actor: Actor) -> dict[str, Store]:
    for code, name, address, phone in STORES:
        if not Store.objects.filter(code=code).exists():
            store_create(actor=actor, code=code, name=name, address=address, phone=phone)
    stores = {store.code: store for store in Store.objects.filter(code__in=RECEIPT_PREFIX)}
    program_settings_update(
        actor=actor,
        name="Setia Rewards",
        merchant_name="Kedai Setia",
        earn_points=1,
        earn_per_amount=Decimal("1.00"),
        point_value=Decimal("0.01"),
        pending_days=0,
        expiry_days=365,
        tier_basis=TierBasis.SPEND,
        tier_window_days=365,
        main_store=stores["bangsar"],
    )
    return stores


def _staff(actor: Actor) -> dict[Role, Actor]:
    names = {
        Role.MANAGER: ("Farah", "Iskandar"),
        Role.MARKETER: ("Daniel", "Tan"),
        Role.STORE_STAFF: ("Ravi", "Kumar"),
    }
    staff = {}
    for login in DEMO_LOGINS[:3]:
        role = Role(login.role)
        first, last = names[role]
        user = staff_user_create(
            actor=actor,
            email=login.email,
            first_name=first,
            last_name=last,
            role=role,
            password=login.password,
        )
        staff[role] = Actor(user=user)
    return staff


def _tiers(actor: Actor) -> None:
    for code, name, threshold, multiplier, benefits, color in TIERS:
        tier_create(
            actor=actor,
            code=code,
            name=name,
            threshold=Decimal(threshold),
            multiplier=Decimal(multiplier),
            retention_days=365,
            benefits=benefits,
            color=color,
        )


def _rewards(actor: Actor) -> list[Reward]:
    """The catalogue, created a year ago so the whole history can redeem from it."""
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


def _named_shoppers(
    rng: random.Random, *, now: datetime, stores: dict[str, Store]
) -> list[Shopper]:
    """Aisyah (weekly at Bangsar, in Malay) and Wei Ling (Mid Valley, often):
    enrolled at the counter back then, their portal logins linked since."""
    named = (
        (DEMO_LOGINS[3], "Aisyah", "Rahman", "ms", "012-388 4120", date(1992, 3, 14), "bangsar"),
        (DEMO_LOGINS[4], "Wei Ling", "Lim", "en", "016-275 9031", date(1988, 9, 2), "mid-valley"),
    )
    shoppers = []
    for index, (login, first, last, language, phone, birthday, home) in enumerate(named):
        joined = _at(rng, now - timedelta(days=400 - 30 * index), "breakfast")
        member_enrol(
            actor=Actor.system(),
            email=login.email,
            phone=phone,
            first_name=first,
            last_name=last,
            birth_date=birthday,
            language=language,
            marketing_consent=True,
            home_store=stores[home],
            now=joined,
        )
        member = member_register(
            email=login.email,
            password=DEMO_PASSWORD,
            first_name=first,
            last_name=last,
            language=language,
        )
        weights = _visit_weights(rng)
        weights["retail"], weights["gift"] = 12, 4
        shopper = Shopper(
            member=member,
            home=home,
            profile="weekly" if index == 0 else "frequent",
            visit_weights=weights,
            pays_with_points=0.1,
            named=True,
        )
        shopper.visits = _visit_times(rng, profile=shopper.profile, joined=joined, until=now)
        shoppers.append(shopper)
    return shoppers


def _shoppers(
    rng: random.Random, *, count: int, now: datetime, stores: dict[str, Store]
) -> list[Shopper]:
    shoppers: list[Shopper] = []
    phones: set[str] = set()
    emails: set[str] = set()
    for _index in range(count):
        person = _person(rng)
        # A quarter joined at the launch, the rest over the months since.
        days_ago = (
            rng.uniform(HISTORY_DAYS - 30, HISTORY_DAYS)
            if rng.random() < 0.25
            else rng.uniform(1, HISTORY_DAYS - 30)
        )
        joined = _at(rng, now - timedelta(days=days_ago), "takeaway")
        if joined >= now:
            joined = now - timedelta(hours=1)
        phone = email = None
        has = rng.choices(("both", "phone", "email"), weights=(70, 20, 10))[0]
        if has in {"both", "phone"}:
            while phone is None or phone in phones:
                prefix = rng.choice(PHONE_PREFIXES)
                digits = 8 if prefix == "011" else 7
                number = str(rng.randrange(10 ** (digits - 1), 10**digits))
                phone = f"{prefix}-{number[:3]} {number[3:]}"
            phones.add(phone)
        if has in {"both", "email"}:
            local = _email_local(person)
            email = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
            while email in emails:
                email = f"{local}{rng.randint(2, 99)}@{rng.choice(EMAIL_DOMAINS)}"
            emails.add(email)
        home = rng.choices(list(HOME_STORE_WEIGHTS), weights=list(HOME_STORE_WEIGHTS.values()))[0]
        age = rng.randint(18, 68)
        birthday = (
            date(timezone.localdate(now).year - age, rng.randint(1, 12), rng.randint(1, 28))
            if rng.random() < 0.85
            else None
        )
        tags = (
            [rng.choice(("office", "student", "corporate", "family"))] if rng.random() < 0.3 else []
        )
        member = member_enrol(
            actor=Actor.system(),
            email=email,
            phone=phone,
            first_name=person.first_name,
            last_name=person.last_name,
            birth_date=birthday,
            language=person.language,
            marketing_consent=rng.random() < 0.6,
            tags=tags,
            home_store=stores[home],
            now=joined,
        )
        profile = rng.choices(list(PROFILES), weights=[p[0] for p in PROFILES.values()])[0]
        shopper = Shopper(
            member=member,
            home=home,
            profile=profile,
            visit_weights=_visit_weights(rng),
            pays_with_points=rng.choice((0.0, 0.0, 0.1, 0.25)),
        )
        shopper.visits = _visit_times(rng, profile=profile, joined=joined, until=now)
        shoppers.append(shopper)
    return shoppers


class Replay:
    """Plays every visit, return and correction in time order through the
    services, with the nightly jobs run at 03:00 of each day in between."""

    def __init__(
        self,
        *,
        rng: random.Random,
        now: datetime,
        stores: dict[str, Store],
        tills: dict[str, Actor],
        staff: dict[Role, Actor],
        rewards: list[Reward],
    ) -> None:
        self.rng, self.now, self.stores, self.tills, self.staff = rng, now, stores, tills, staff
        self.rewards = rewards
        self.redemptions = 0
        self.jobs = job_registry()
        self.receipts: dict[str, int] = {}
        self.members: dict[int, Member] = {}
        self.purchases = self.returns = self.adjustments = 0
        self._queue: list[tuple[datetime, int, Callable[[datetime], None]]] = []
        self._sequence = 0

    def at(self, when: datetime, action: Callable[[datetime], None]) -> None:
        if when < self.now:
            self._sequence += 1
            heapq.heappush(self._queue, (when, self._sequence, action))

    def run(self, shoppers: list[Shopper]) -> None:
        for shopper in shoppers:
            self.members[shopper.member.pk] = shopper.member
            for index, day in enumerate(shopper.visits):
                kind = _visit_kind(self.rng, shopper.visit_weights)
                when = _at(self.rng, day, kind)
                if index == 0:
                    # They joined at the counter on their first visit.
                    when = max(when, shopper.member.joined_at + timedelta(minutes=2))
                self.at(when, self._visit(shopper, kind, index))
        self._corrections(shoppers)
        night = None
        while self._queue:
            when, _sequence, action = heapq.heappop(self._queue)
            local_day = timezone.localdate(when)
            if local_day != night:
                night = local_day
                self._nightly(datetime.combine(local_day, time(3, 0), tzinfo=when.tzinfo))
            action(when)
        self._nightly(self.now)

    def _nightly(self, as_of: datetime) -> None:
        for name in NIGHTLY_JOBS:
            self.jobs[name](as_of)
        # The tier review may have moved members: sales must see their tier of today.
        tiers = dict(Member.objects.values_list("pk", "tier_id"))
        for member in self.members.values():
            if member.tier_id != tiers[member.pk]:
                member.refresh_from_db(fields=["tier", "tier_since"])

    def _visit(self, shopper: Shopper, kind: str, index: int) -> Callable[[datetime], None]:
        def visit(when: datetime) -> None:
            store = shopper.home
            if self.rng.random() < 0.12:
                store = self.rng.choice([code for code in self.stores if code != shopper.home])
            # Each named member brings back something bought on their fifth visit.
            self._sale(shopper, store, kind, when, named_return=shopper.named and index == 4)
            if self.rng.random() < (0.12 if shopper.named else 0.05):
                # Queued like every other move, so its entry sits in time order
                # with a visit that comes in the meantime.
                later = when + timedelta(minutes=self.rng.randint(5, 90))
                self.at(later, lambda moment: self._redeem(shopper, store, moment))

        return visit

    def _sale(
        self, shopper: Shopper, store: str, kind: str, when: datetime, *, named_return: bool
    ) -> None:
        member = shopper.member
        items = _basket(
            self.rng, "retail" if named_return else kind, timezone.localtime(when).month
        )
        total = sum((item.unit_price * item.quantity for item in items), Decimal("0"))
        points = 0
        if self.rng.random() < shopper.pays_with_points:
            balance = PointsAccount.objects.values_list("balance", flat=True).get(member=member)
            points = min(balance, int(total * 100), 1500) // 100 * 100
        self.receipts[store] = self.receipts.get(store, 0) + 1
        local = timezone.localtime(when)
        reference = f"{RECEIPT_PREFIX[store]}-{local:%y%m%d}-{self.receipts[store]:05d}"
        recorded = purchase_record(
            sale=SaleInput(
                store=self.stores[store],
                reference=reference,
                member=member,
                occurred_at=when,
                items=items,
                points_to_redeem=points,
            ),
            actor=self.tills[store],
            now=when,
        )
        self.purchases += 1
        returnable = [item for item in items if item.category in {"beans", "merchandise", "pantry"}]
        if returnable and (named_return or self.rng.random() < 0.06):
            item = max(returnable, key=lambda line: line.unit_price)
            back = when + timedelta(days=self.rng.randint(1, 6), hours=self.rng.randint(1, 5))
            self.at(back, self._return(recorded.record_id, reference, store, item.sku))

    def _redeem(self, shopper: Shopper, store: str, when: datetime) -> None:
        """Now and then a member spends points on a reward they can afford; most
        vouchers are used on a later visit, some are forgotten and expire."""
        if when >= self.now:
            return
        member = shopper.member
        balance = PointsAccount.objects.values_list("balance", flat=True).get(member=member)
        affordable = [reward for reward in self.rewards if reward.points_cost <= balance]
        if not affordable:
            return
        reward = self.rng.choice(affordable)
        try:
            # In the portal if they have a login, else asked for at the counter.
            actor = Actor(user=member.user) if member.user_id else self.staff[Role.STORE_STAFF]
            redemption = redemption_create(member=member, reward=reward, actor=actor, now=when)
        except (RewardUnavailable, LimitReached):
            return  # not for their tier, out of stock or already had: they pick nothing
        self.redemptions += 1
        if self.rng.random() < 0.75:
            use_at = when + timedelta(days=self.rng.randint(1, 25), hours=self.rng.randint(0, 8))
            codes = Voucher.objects.filter(redemption=redemption).values_list("code", flat=True)
            for code in codes:
                self.at(use_at, self._use_voucher(code, member, store))

    def fresh_vouchers(self, shoppers: list[Shopper]) -> None:
        """The named members redeemed a coffee two days ago and have not used it
        yet, so their portal shows a live voucher."""
        coffee = next(reward for reward in self.rewards if reward.sku == "KOPI-O")
        for shopper in shoppers:
            balance = PointsAccount.objects.values_list("balance", flat=True).get(
                member=shopper.member
            )
            if balance >= coffee.points_cost:
                redemption_create(
                    member=shopper.member,
                    reward=coffee,
                    actor=Actor(user=shopper.member.user),
                    now=self.now - timedelta(days=2),
                )
                self.redemptions += 1

    def _use_voucher(self, code: str, member: Member, store: str) -> Callable[[datetime], None]:
        def use(when: datetime) -> None:
            if not Voucher.objects.filter(code=code, status=VoucherStatus.ISSUED).exists():
                return  # expired meanwhile
            self.receipts[store] = self.receipts.get(store, 0) + 1
            local = timezone.localtime(when)
            voucher_use(
                code=code,
                actor=self.tills[store],
                member=member,
                purchase_reference=f"{RECEIPT_PREFIX[store]}-{local:%y%m%d}-{self.receipts[store]:05d}",
                store=self.stores[store],
                now=when,
            )

        return use

    def _return(
        self, purchase_id: int, reference: str, store: str, sku: str
    ) -> Callable[[datetime], None]:
        def give_back(when: datetime) -> None:
            purchase_return(
                purchase=Purchase.objects.get(pk=purchase_id),
                reference=f"R-{reference}",
                actor=self.staff[Role.STORE_STAFF],
                items=[ReturnItem(sku=sku, quantity=1)],
                now=when,
            )
            self.returns += 1

        return give_back

    def _corrections(self, shoppers: list[Shopper]) -> None:
        """A few corrections by hand: goodwill points from the counter (within
        the staff limit) or the manager, and one receipt entered twice."""
        chosen = shoppers[:2] + self.rng.sample(shoppers[2:], k=min(10, len(shoppers) - 2))
        for shopper in chosen:
            if len(shopper.visits) < 3:
                continue
            when = shopper.visits[len(shopper.visits) // 2] + timedelta(hours=20)
            down = self.rng.random() < 0.2
            self.at(when, self._correction(shopper.member, down=down))

    def _correction(self, member: Member, *, down: bool) -> Callable[[datetime], None]:
        def correct(when: datetime) -> None:
            balance = PointsAccount.objects.values_list("balance", flat=True).get(member=member)
            if down:
                points = -min(balance, self.rng.choice((12, 25, 38)))
                reason = self.rng.choice(ADJUSTMENT_REASONS_DOWN)
            else:
                points = self.rng.choice((50, 100, 200, 300, 800))
                reason = self.rng.choice(ADJUSTMENT_REASONS_UP)
            if points == 0:
                return
            role = Role.MANAGER if abs(points) > 500 else Role.STORE_STAFF
            points_adjust(
                actor=self.staff[role], member=member, points=points, reason=reason, now=when
            )
            self.adjustments += 1

        return correct


def _visit_kind(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]
