"""The one place that locks ledger rows. Always lock the account row before
touching a member's entries, and several accounts in member id order. Where
the account sits among the other apps' rows is written in rewards.locks (the
global lock order): after a purchase or a redemption, before vouchers, gift
cards and campaign budgets."""

from __future__ import annotations

from loyalty.db import Lookup
from members.models import PointsAccount

_ACCOUNT_FOR_UPDATE = Lookup(PointsAccount, "member_id", for_update=True)


def account_lock(*, member_id: int) -> PointsAccount:
    """The member's account row, locked until the transaction ends (PostgreSQL;
    SQLite serialises write transactions on its own). Raises
    PointsAccount.DoesNotExist."""
    account = _ACCOUNT_FOR_UPDATE.get(member_id)
    if account is None:
        raise PointsAccount.DoesNotExist()
    return account


def accounts_lock(*, member_ids: list[int]) -> dict[int, PointsAccount]:
    """The accounts of several members, locked in member id order (one
    statement), by member id: the order every flow locking more than one
    account keeps. Raises PointsAccount.DoesNotExist when one is missing."""
    ids = sorted(set(member_ids))
    accounts = {
        account.member_id: account
        for account in PointsAccount.objects.select_for_update()
        .filter(member_id__in=ids)
        .order_by("member_id")
    }
    if len(accounts) != len(ids):
        raise PointsAccount.DoesNotExist()
    return accounts
