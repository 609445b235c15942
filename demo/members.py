"""The demo's members (the members app, layer 2): the tiers; about two hundred
Malaysians who joined over fourteen months, and the two named demo members,
each with their habits (how often they come, at what times, for what); and a
few corrections of points by hand."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from demo.loyalty import DEMO_LOGINS, DEMO_PASSWORD
from demo.shop import Shop
from loyalty.actors import Actor
from loyalty.roles import Role
from members.identifiers import PhoneInvalid, normalise_phone
from members.models import Member, PointsAccount
from members.points import points_adjust
from members.services import member_enrol, member_register
from members.tiers import tier_create

HISTORY_DAYS = 420  # members joined over the past ~14 months
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


def _phone_valid(phone: str) -> bool:
    try:
        normalise_phone(phone, region="MY")
    except PhoneInvalid:
        return False
    return True


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


# --- Shoppers and their visits -------------------------------------------------------------------


@dataclass
class Shopper:
    """A member and their habits: home store, how often they come (`profile`)
    and for what, and the days of their visits."""

    member: Member
    home: str
    profile: str
    visit_weights: dict[str, int]
    pays_with_points: float  # chance to pay with points at a visit, once there are enough
    named: bool = False
    visits: list[datetime] = field(default_factory=list)


def _visit_weights(rng: random.Random) -> dict[str, int]:
    """How often a shopper comes for each kind of visit: twice (three times for
    retail and gifts) as often for their favourite."""
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


def at_hour(rng: random.Random, day: datetime, kind: str) -> datetime:
    """A moment on the local day of `day` in the hours visits of `kind` happen."""
    start, end = VISIT_HOURS[kind]
    hours = rng.uniform(start, end)
    local = timezone.localtime(day)
    moment = datetime.combine(local.date(), time(0, 0), tzinfo=local.tzinfo)
    return moment + timedelta(hours=hours, seconds=rng.randint(0, 59))


def visit_kind(rng: random.Random, weights: dict[str, int]) -> str:
    """breakfast, lunch, tea, takeaway, retail or gift, by the shopper's `weights`."""
    return rng.choices(list(weights), weights=list(weights.values()))[0]


# --- Setting up ----------------------------------------------------------------------------------


def tiers_create(actor: Actor) -> None:
    """Bronze, Silver and Gold on spend over 365 days."""
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


def named_shoppers_enrol(shop: Shop) -> list[Shopper]:
    """Aisyah (weekly at Bangsar, in Malay) and Wei Ling (Mid Valley, often):
    enrolled at the counter back then, their portal logins linked since."""
    rng, now = shop.rng, shop.now
    named = (
        (DEMO_LOGINS[3], "Aisyah", "Rahman", "ms", "012-388 4120", date(1992, 3, 14), "bangsar"),
        (DEMO_LOGINS[4], "Wei Ling", "Lim", "en", "016-275 9031", date(1988, 9, 2), "mid-valley"),
    )
    shoppers = []
    for index, (login, first, last, language, phone, birthday, home) in enumerate(named):
        joined = at_hour(rng, now - timedelta(days=400 - 30 * index), "breakfast")
        member_enrol(
            actor=Actor.system(),
            email=login.email,
            phone=phone,
            first_name=first,
            last_name=last,
            birth_date=birthday,
            language=language,
            marketing_consent=True,
            home_store=shop.stores[home],
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
        shop.members[member.pk] = member
    return shoppers


def shoppers_enrol(shop: Shop, *, count: int) -> list[Shopper]:
    """`count` members enrolled at the counter over the history, each with a
    frequency profile and a favourite kind of visit; most give a phone, many
    an email, some neither a birthday nor consent to marketing."""
    rng, now = shop.rng, shop.now
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
        joined = at_hour(rng, now - timedelta(days=days_ago), "takeaway")
        if joined >= now:
            joined = now - timedelta(hours=1)
        phone = email = None
        has = rng.choices(("both", "phone", "email"), weights=(70, 20, 10))[0]
        if has in {"both", "phone"}:
            # Drawn again until phonenumbers finds it a number in use (some
            # blocks of 011, 014 and 018 are not given out) and nobody has it.
            while phone is None or phone in phones or not _phone_valid(phone):
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
            home_store=shop.stores[home],
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
        shop.members[member.pk] = member
    return shoppers


# --- Corrections by hand -------------------------------------------------------------------------


def corrections_schedule(shop: Shop, shoppers: list[Shopper]) -> None:
    """A few corrections by hand: goodwill points from the counter (within
    the staff limit) or the manager, and one receipt entered twice."""
    chosen = shoppers[:2] + shop.rng.sample(shoppers[2:], k=min(10, len(shoppers) - 2))
    for shopper in chosen:
        if len(shopper.visits) < 3:
            continue
        when = shopper.visits[len(shopper.visits) // 2] + timedelta(hours=20)
        down = shop.rng.random() < 0.2
        shop.at(when, _correction(shop, shopper.member, down=down))


def _correction(shop: Shop, member: Member, *, down: bool) -> Callable[[datetime], None]:
    """Points added as goodwill (by the manager above the staff limit), or a
    few taken back for a receipt entered twice."""

    def correct(when: datetime) -> None:
        balance = PointsAccount.objects.values_list("balance", flat=True).get(member=member)
        if down:
            points = -min(balance, shop.rng.choice((12, 25, 38)))
            reason = shop.rng.choice(ADJUSTMENT_REASONS_DOWN)
        else:
            points = shop.rng.choice((50, 100, 200, 300, 800))
            reason = shop.rng.choice(ADJUSTMENT_REASONS_UP)
        if points == 0:
            return
        role = Role.MANAGER if abs(points) > 500 else Role.STORE_STAFF
        points_adjust(actor=shop.staff[role], member=member, points=points, reason=reason, now=when)
        shop.adjustments += 1

    return correct
