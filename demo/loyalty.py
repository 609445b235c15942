"""The demo's platform (the loyalty app, layer 1): three stores and the program, the
staff logins, and a till key for each store."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from loyalty.actors import Actor
from loyalty.models import ApiScope, Store, TierBasis
from loyalty.roles import Role
from loyalty.services import (
    api_key_create,
    program_settings_update,
    staff_user_create,
    store_create,
)

DEMO_PASSWORD = "setia-demo-2026"  # noqa: S105 - printed for the demo logins on purpose


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


def stores_and_program_create(actor: Actor) -> dict[str, Store]:
    """The three branches (Bangsar the main store) and the program: 1 point per
    RM1, points worth 1 sen, a year's expiry, tiers on a year's spend."""
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


def staff_create(actor: Actor, stores: dict[str, Store]) -> dict[Role, Actor]:
    """The manager, marketer and store staff logins of DEMO_LOGINS, by role;
    the store staff work at Bangsar."""
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
            store=stores["bangsar"] if role == Role.STORE_STAFF else None,
        )
        staff[role] = Actor(user=user)
    return staff


def tills_create(actor: Actor, stores: dict[str, Store]) -> dict[str, Actor]:
    """A `pos` API key for each store, as its till would have."""
    return {
        code: Actor(
            api_key=api_key_create(
                actor=actor, name=f"Till {store.name}", scopes=[ApiScope.POS], store=store
            ).api_key
        )
        for code, store in stores.items()
    }
