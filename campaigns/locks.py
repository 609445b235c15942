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

from campaigns.models import Campaign


def campaign_lock(*, campaign_id: int) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign_id)


def campaign_budgets_lock(*, campaign_ids: Iterable[int]) -> dict[int, tuple[int | None, int]]:
    """(budget_points, budget_used) of each campaign of `campaign_ids`, locked
    in id order: one statement. Ids that match no campaign are absent."""
    rows = (
        Campaign.objects.select_for_update()
        .filter(pk__in=sorted(set(campaign_ids)))
        .order_by("pk")
        .values_list("pk", "budget_points", "budget_used")
    )
    return {pk: (budget, used) for pk, budget, used in rows}
