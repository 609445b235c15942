"""The one place that locks campaign rows (PostgreSQL; SQLite serialises write
transactions on its own).

Campaign budget rows come last in the global lock order (rewards.locks, item
8): a sale or an event locks the member's points account first, then its
vouchers and gift cards, and only then the budget rows of the campaigns it
awards from, by primary key. A back-office edit of a campaign locks that one
row alone. So two flows cannot deadlock, and two sales awarding from the same
budget take turns on its row: the second one reads what the first one used.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from campaigns.models import Campaign


def campaign_lock(*, campaign_id: int) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign_id)


def campaign_budgets_lock(*, campaign_ids: Iterable[int]) -> dict[int, tuple[int | None, int]]:
    """(budget_points, budget_used) of each campaign of `campaign_ids`, locked
    in id order: one statement. Ids that match no campaign are absent. It rides
    on every sale with a budgeted campaign, so it is plain SQL (the ORM built
    this statement anew each time, about 1 ms of a sale's CPU)."""
    ids = sorted({int(pk) for pk in campaign_ids})
    if not ids:
        return {}
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            # Only the quoted table name and placeholders are formatted in.
            f"SELECT id, budget_points, budget_used FROM {_TABLE} "  # noqa: S608
            f"WHERE id IN ({', '.join(['%s'] * len(ids))}) ORDER BY id{lock}",
            ids,
        )
        return {pk: (budget, used) for pk, budget, used in cursor.fetchall()}


def campaign_budgets_spend(*, spent: dict[int, int]) -> None:
    """Add `spent[id]` points to each campaign's `budget_used`, in one
    statement; the caller holds their rows (campaign_budgets_lock)."""
    if not spent:
        return
    ids = sorted(spent)
    cases = " ".join("WHEN %s THEN %s" for _ in ids)
    params: list[int] = [value for pk in ids for value in (pk, int(spent[pk]))]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_TABLE} SET budget_used = budget_used + CASE id {cases} ELSE 0 END "  # noqa: S608
            f"WHERE id IN ({', '.join(['%s'] * len(ids))})",
            [*params, *ids],
        )


_TABLE = connection.ops.quote_name(Campaign._meta.db_table)
