"""The back-office list of redemptions and its CSV export (marketers and
managers): the export holds exactly the rows the page's filters select,
escaped and plain; store staff may not export redemptions; a redemption at
a store is that store's ledger line for its store staff."""

from __future__ import annotations

import csv
import io

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from loyalty.actors import Actor
from loyalty.models import ApiScope, AuditEvent
from loyalty.services import api_key_create
from rewards.models import RedemptionStatus
from rewards.services import redemption_cancel, redemption_create
from tests.factories import MemberFactory, StaffUserFactory, StoreFactory
from tests.rewards.conftest import fund, make_reward

pytestmark = pytest.mark.django_db


def rows_of(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def listed(response) -> list[int]:
    return [row.pk for row in response.context["page_obj"].paginator.object_list]


@pytest.fixture
def redeemed(program, tiers):
    """Three redemptions: two of a voucher (one at Bangsar's till, one
    cancelled with a note), one of a reward named like a formula."""
    bangsar = StoreFactory(code="bangsar", name="Bangsar")
    till = Actor(
        api_key=api_key_create(
            actor=Actor.system(), name="till", scopes=[ApiScope.POS], store=bangsar
        ).api_key
    )
    member = MemberFactory(user=None, email="r@example.com", first_name="@Ann")
    fund(member, 2000)
    voucher, free = make_reward(), make_reward(name="=Free coffee", points_cost=100)
    at_till = redemption_create(member=member, reward=voucher, actor=till)
    cancelled = redemption_create(member=member, reward=voucher, actor=Actor.system())
    redemption_cancel(redemption=cancelled, actor=Actor.system(), reason="+ asked to undo")
    zero = redemption_create(member=member, reward=free, actor=Actor.system())
    return {"bangsar": bangsar, "till": at_till, "cancelled": cancelled, "zero": zero}


def test_the_redemptions_export_holds_exactly_the_rows_the_page_filters_select(
    client, marketer, redeemed
):
    client.force_login(marketer)
    for query in ({"status": RedemptionStatus.COMPLETED}, {"store": redeemed["bangsar"].pk}, {}):
        page = client.get(reverse("staff:redemption_list"), query)
        rows = rows_of(client.get(reverse("staff:redemption_export"), query))
        assert [int(row[0]) for row in rows[1:]] == listed(page)
    assert listed(page) == [redeemed["zero"].pk, redeemed["cancelled"].pk, redeemed["till"].pk]
    assert AuditEvent.objects.filter(action="redemption.export").count() == 3


def test_a_redemption_row_is_escaped_plain_and_dated_in_local_time(client, manager, redeemed):
    client.force_login(manager)
    rows = rows_of(client.get(reverse("staff:redemption_export")))
    by_id = {int(row[0]): dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    zero, cancelled, till = (by_id[redeemed[name].pk] for name in ("zero", "cancelled", "till"))
    assert zero["points"] == "100" and zero["reward"] == "'=Free coffee"
    assert zero["quantity"] == "1" and zero["member_id"] == redeemed["zero"].member.public_id
    assert cancelled["cancel_reason"] == "'+ asked to undo"
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"].endswith("+08:00")
    assert till["store"] == "bangsar" and till["points"] == "500" and till["cancelled_at"] == ""
    assert till["created_at"].endswith("+08:00")


def test_store_staff_may_not_list_or_export_redemptions(client, store_staff, redeemed):
    client.force_login(store_staff)
    assert client.get(reverse("staff:redemption_list")).status_code == 403
    assert client.get(reverse("staff:redemption_export")).status_code == 403


def test_a_redemption_at_a_store_is_that_stores_ledger_line(client, redeemed):
    client.force_login(StaffUserFactory(role="Store staff", store=redeemed["bangsar"]))
    rows = rows_of(client.get(reverse("staff:ledger_export")))
    assert [(row[4], row[12], row[13]) for row in rows[1:]] == [
        ("redeem", "redemption", str(redeemed["till"].pk))
    ]
