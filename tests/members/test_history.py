"""History lines are written from their source and read in the reader's
language (members/history.py): a Malay member's sale reads in Malay in the
portal and in English to staff and to a till asking in English; entries
without a message (older ones) read as they were written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from loyalty.actors import Actor
from loyalty.models import AuditEvent
from members.history import MESSAGES, Text, entry_text
from members.models import Member, PointsEntry
from members.points import points_adjust
from tests.factories import MemberFactory, TierFactory, UserFactory
from tests.purchases.conftest import sale

pytestmark = pytest.mark.django_db


@pytest.fixture
def malay_gold(program) -> Member:
    gold = TierFactory(code="emas", name="Emas", threshold=Decimal("0"), multiplier=Decimal("1.5"))
    member = MemberFactory(language="ms", first_name="Aisyah")
    Member.objects.filter(pk=member.pk).update(tier=gold)
    member.refresh_from_db()
    return member


def _sale_entries(pos_api, member) -> list[PointsEntry]:
    response = pos_api.post(
        "/api/v1/purchases", sale("R-77", ("TEA", 1, "100.00"), member=member), format="json"
    )
    assert response.status_code == 201, response.content
    return list(PointsEntry.objects.filter(member=member).order_by("id"))


def test_a_sale_stores_its_lines_in_the_members_language_and_their_source(pos_api, malay_gold):
    base, tier = _sale_entries(pos_api, malay_gold)
    assert base.description == "Pembelian di KLCC, resit R-77"
    assert base.message == {
        "key": "sale.award",
        "args": {
            "award": {"key": "earn.purchase", "args": {}},
            "store": "KLCC",
            "reference": "R-77",
        },
    }
    assert tier.description == "Tahap Emas ×1.5 di KLCC, resit R-77"
    with translation.override("en"):
        assert [base.text, tier.text] == [
            "Purchase at KLCC, receipt R-77",
            "Emas tier ×1.5 at KLCC, receipt R-77",
        ]
    with translation.override("ms"):
        assert base.text == "Pembelian di KLCC, resit R-77"


def test_staff_read_a_malay_members_history_in_english(client, pos_api, store_staff, malay_gold):
    _sale_entries(pos_api, malay_gold)
    client.force_login(store_staff)
    page = client.get(
        reverse("staff:member_detail", args=[malay_gold.public_id]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "Purchase at KLCC, receipt R-77" in page
    assert "Pembelian" not in page


def test_the_member_reads_it_in_malay_in_the_portal(client, pos_api, program, tiers):
    member = MemberFactory(user=UserFactory(), language="ms")
    _sale_entries(pos_api, member)
    client.force_login(member.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = member.language
    page = client.get(reverse("portal:history")).content.decode()
    assert "Pembelian di KLCC, resit R-77" in page


def test_the_ledger_api_answers_in_the_language_asked(pos_api, malay_gold):
    _sale_entries(pos_api, malay_gold)
    url = f"/api/v1/members/{malay_gold.public_id}/ledger"
    english = pos_api.get(url, HTTP_ACCEPT_LANGUAGE="en").json()["results"]
    malay = pos_api.get(url, HTTP_ACCEPT_LANGUAGE="ms").json()["results"]
    assert english[-1]["description"] == "Purchase at KLCC, receipt R-77"
    assert malay[-1]["description"] == "Pembelian di KLCC, resit R-77"


def test_a_return_reads_in_each_language(pos_api, malay_gold):
    bought = pos_api.post(
        "/api/v1/purchases", sale("R-78", ("TEA", 2, "50.00"), member=malay_gold), format="json"
    ).json()
    response = pos_api.post(
        f"/api/v1/purchases/{bought['id']}/returns",
        {"reference": "RET-1", "items": [{"sku": "TEA", "quantity": 1}]},
        format="json",
    )
    assert response.status_code == 201, response.content
    reversal = PointsEntry.objects.filter(member=malay_gold).latest("id")
    with translation.override("en"):
        assert reversal.text == "Return RET-1 of receipt R-78"
    assert reversal.description == "Pemulangan RET-1 bagi resit R-78"
    with translation.override("ms"):
        assert entry_text(reversal) == reversal.description


def test_an_adjustment_reads_as_typed_and_an_old_entry_as_written(malay_gold):
    entry = points_adjust(actor=Actor.system(), member=malay_gold, points=10, reason="Goodwill")
    assert entry.message is None and entry.text == "Goodwill"
    # An entry written before messages, or whose key has since gone, keeps its text.
    PointsEntry.objects.filter(pk=entry.pk).update(
        message={"key": "gone.key", "args": {}}, description="Hadiah"
    )
    entry.refresh_from_db()
    assert entry.text == "Hadiah"
    PointsEntry.objects.filter(pk=entry.pk).update(message={"key": "sale.paid", "args": {}})
    entry.refresh_from_db()
    assert entry.text == "Hadiah"  # its arguments no longer fit: the stored text


def test_an_adjustment_with_a_history_line_reads_in_each_readers_language_and_posts_once(
    malay_gold,
):
    """Goodwill for service recovery: the member reads it in Malay, staff in
    English; the same idempotency key again returns the first entry and
    writes no second audit row."""
    reason = Text("service_recovery")
    first = points_adjust(
        actor=Actor.system(), member=malay_gold, points=50, reason=reason, idempotency_key="g-1"
    )
    again = points_adjust(
        actor=Actor.system(), member=malay_gold, points=50, reason=reason, idempotency_key="g-1"
    )
    assert again.pk == first.pk
    assert PointsEntry.objects.filter(member=malay_gold).count() == 1
    assert AuditEvent.objects.filter(action="points.adjust").count() == 1
    assert first.description == "Pemulihan perkhidmatan: mata muhibah"
    with translation.override("en"):
        assert first.text == "Service recovery: goodwill points"
    assert first.message == {"key": "service_recovery", "args": {}}


def test_a_lazy_string_cannot_be_an_argument_it_would_freeze_in_one_language():
    with pytest.raises(TypeError):
        Text("sale.award", award=translation.gettext_lazy("Purchase"), store="A", reference="1")
    with pytest.raises(KeyError):
        Text("no.such.line")


_names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


@given(store=_names, reference=_names, years=st.integers(0, 120))
def test_every_line_round_trips_and_renders_in_both_languages(store, reference, years):
    lines = [
        Text("sale.award", award=Text("earn.purchase"), store=store, reference=reference),
        Text("sale.paid", store=store, reference=reference),
        Text("moment", award=store, moment=Text("moment.anniversary", years=years)),
        Text("referral.friend", campaign=store, name=Text("referral.a_friend")),
        Text("challenge.milestone", challenge=store, weeks=years),
        Text("challenge.reversed", challenge=store),
    ]
    for line in lines:
        again = Text.from_json(line.as_json())
        assert again == line
        for language in ("en", "ms"):
            with translation.override(language):
                assert store in str(again) or not store


ARGS = {
    "store": "S",
    "reference": "R",
    "award": "A",
    "tier": "T",
    "multiplier": "2",
    "purchase": "P",
    "moment": "M",
    "year": 2026,
    "years": 2,
    "campaign": "C",
    "name": "N",
    "challenge": "X",
    "weeks": 4,
}


def test_every_message_has_a_malay_line():
    def rendered(message, language: str) -> str:
        with translation.override(language):
            return str(message % ARGS)

    same = [
        key
        for key, message in MESSAGES.items()
        if rendered(message, "ms") == rendered(message, "en")
    ]
    assert same == ["moment"]  # "%(award)s (%(moment)s)" reads the same in both


@given(count=st.integers(0, 3))
def test_a_line_reads_as_its_message_does_in_each_language_and_number(count):
    """Text keeps each message's text per language (members.history._text):
    every line still reads as its lazy message in the active language, the
    plural ones by their number."""
    args = {**ARGS, "years": count, "weeks": count}
    for language in ("en", "ms", "en"):
        with translation.override(language):
            for key, message in MESSAGES.items():
                assert str(Text(key, **args)) == str(message % args), (language, key)
