"""Voucher codes, using a voucher once, and the expiry job."""

from __future__ import annotations

import math
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.actors import Actor
from loyalty.jobs import job_run
from rewards import voucher_codes
from rewards.errors import VoucherNotFound, VoucherNotUsable
from rewards.models import VoucherStatus
from rewards.selectors import voucher_get, voucher_status
from rewards.services import redemption_cancel, redemption_create, voucher_use
from tests.factories import MemberFactory
from tests.rewards.conftest import fund, make_reward

SYSTEM = Actor.system()


def test_voucher_codes_carry_at_least_60_random_bits_in_an_unambiguous_alphabet():
    code = voucher_codes.new_voucher_code()
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code)
    assert not set("ILOU") & set(code.replace("-", ""))
    assert voucher_codes.VOUCHER_LENGTH * math.log2(len(set(voucher_codes.ALPHABET))) >= 60
    assert len({voucher_codes.new_voucher_code() for _ in range(2000)}) == 2000


def test_typed_codes_are_read_in_any_case_without_dashes_and_with_look_alikes():
    assert voucher_codes.normalise_code(" 7kq4 m2xh-9tpa ") == "7KQ4-M2XH-9TPA"
    assert voucher_codes.normalise_code("7kq4m2xh9tpa") == "7KQ4-M2XH-9TPA"
    assert voucher_codes.normalise_code("7KQ4-M2XH-9TPO") == "7KQ4-M2XH-9TP0"
    assert voucher_codes.normalise_code("7KQ4-M2XH") is None
    assert voucher_codes.normalise_code("7KQ4-M2XH-9TP!") is None


@pytest.fixture
def voucher(db, shopper):
    fund(shopper, 1000)
    reward = make_reward(voucher_valid_days=10)
    return redemption_create(member=shopper, reward=reward, actor=SYSTEM).vouchers.get()


def test_a_voucher_is_found_by_its_code_in_lower_case_without_dashes(voucher):
    assert voucher_get(code=voucher.code.lower().replace("-", "")) == voucher
    with pytest.raises(VoucherNotFound):
        voucher_get(code="0000-0000-0000")


def test_a_voucher_is_used_once(voucher):
    used = voucher_use(code=voucher.code, actor=SYSTEM, purchase_reference="R-1")
    assert used.status == VoucherStatus.USED and used.used_reference == "R-1"
    assert used.used_at is not None

    with pytest.raises(VoucherNotUsable):
        voucher_use(code=voucher.code, actor=SYSTEM, purchase_reference="R-2")
    voucher.refresh_from_db()
    assert voucher.used_reference == "R-1"


def test_another_members_voucher_is_refused(voucher):
    stranger = MemberFactory(user=None, email="stranger@example.com")
    with pytest.raises(VoucherNotUsable):
        voucher_use(code=voucher.code, actor=SYSTEM, member=stranger)
    voucher.refresh_from_db()
    assert voucher.status == VoucherStatus.ISSUED


def test_an_expired_or_cancelled_voucher_is_refused(voucher):
    later = voucher.expires_at + timedelta(seconds=1)
    assert voucher_status(voucher=voucher, now=later) == VoucherStatus.EXPIRED
    with pytest.raises(VoucherNotUsable):
        voucher_use(code=voucher.code, actor=SYSTEM, now=later)

    redemption_cancel(redemption=voucher.redemption, actor=SYSTEM)
    with pytest.raises(VoucherNotUsable):
        voucher_use(code=voucher.code, actor=SYSTEM)


def test_the_expiry_job_expires_due_vouchers_once_and_leaves_the_rest(voucher, shopper):
    fund(shopper, 1000)
    lasting = redemption_create(
        member=shopper, reward=make_reward(voucher_valid_days=None), actor=SYSTEM
    ).vouchers.get()
    as_of = voucher.expires_at

    assert job_run("expire_vouchers", as_of=as_of - timedelta(seconds=1)).startswith("0 ")
    assert job_run("expire_vouchers", as_of=as_of).startswith("1 ")
    assert job_run("expire_vouchers", as_of=as_of).startswith("0 ")

    voucher.refresh_from_db()
    lasting.refresh_from_db()
    assert voucher.status == VoucherStatus.EXPIRED
    assert lasting.status == VoucherStatus.ISSUED and lasting.expires_at is None
    assert voucher_status(voucher=lasting, now=timezone.now() + timedelta(days=3650)) == "issued"
