"""Challenges in words, in the reader's language: what a goal asks ("Make 3
purchases within 30 days of joining"), how far a member has come ("2 of 3
purchases"), and how long is left ("12 days left"). Every count picks its
plural form, so a language with other rules than English's says it right.

The portal (challenge cards, the badge wall's "how to earn it", the home
panel) and the back-office (list, results) say it the same way from here.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal

from django.utils import formats, timezone
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loyalty.money import money_format

PURCHASE_COUNT = "purchase_count"
SPEND = "spend"
CATEGORY_SPEND = "category_spend"
STORES_VISITED = "stores_visited"
REFERRALS = "referrals"
EVENT_COUNT = "event_count"
WEEKLY_STREAK = "weekly_streak"
MONEY_GOALS = frozenset({SPEND, CATEGORY_SPEND})


def goal_what(
    *, goal: str, target: Decimal | int, categories: list[str] | None = None, event: str = ""
) -> str:
    """The goal alone: "make 3 purchases", "spend RM 100.00 on Coffee or Tea"."""
    count = int(target)
    if goal == PURCHASE_COUNT:
        return ngettext("make %(count)s purchase", "make %(count)s purchases", count) % {
            "count": count
        }
    if goal == SPEND:
        return _("spend %(amount)s") % {"amount": money_format(target)}
    if goal == CATEGORY_SPEND:
        return _("spend %(amount)s on %(lines)s") % {
            "amount": money_format(target),
            "lines": get_text_list(list(categories or []), _("or")),
        }
    if goal == STORES_VISITED:
        return ngettext(
            "shop at %(count)s different store", "shop at %(count)s different stores", count
        ) % {"count": count}
    if goal == REFERRALS:
        return ngettext(
            "bring %(count)s friend who makes a purchase",
            "bring %(count)s friends who make a purchase",
            count,
        ) % {"count": count}
    if goal == EVENT_COUNT:
        return ngettext(
            "do “%(event)s” %(count)s time", "do “%(event)s” %(count)s times", count
        ) % {
            "event": event,
            "count": count,
        }
    if goal == WEEKLY_STREAK:
        return ngettext(
            "buy something every week for %(count)s week",
            "buy something every week for %(count)s weeks in a row",
            count,
        ) % {"count": count}
    raise ValueError(goal)


def goal_text(
    *,
    goal: str,
    target: Decimal | int,
    categories: list[str] | None = None,
    event: str = "",
    rolling_days: int | None = None,
    ends_at: datetime | None = None,
    freezes: int = 0,
) -> str:
    """The whole ask, as a sentence: the goal, its window, the missed weeks forgiven."""
    what = goal_what(goal=goal, target=target, categories=categories, event=event)
    if rolling_days:
        sentence = ngettext(
            "%(what)s within %(days)s day of joining",
            "%(what)s within %(days)s days of joining",
            rolling_days,
        ) % {"what": what, "days": rolling_days}
    elif ends_at is not None:
        sentence = _("%(what)s by %(date)s") % {
            "what": what,
            "date": formats.date_format(timezone.localtime(ends_at), "j M Y"),
        }
    else:
        sentence = what
    if goal == WEEKLY_STREAK and freezes:
        sentence = ngettext(
            "%(goal)s (%(count)s missed week forgiven)",
            "%(goal)s (%(count)s missed weeks forgiven)",
            freezes,
        ) % {"goal": sentence, "count": freezes}
    return sentence[:1].upper() + sentence[1:]


def progress_text(*, goal: str, progress: Decimal | int, target: Decimal | int) -> str:
    """How far the member has come: "2 of 3 purchases", "RM 40.00 of RM 100.00 spent"."""
    if goal in MONEY_GOALS:
        return _("%(progress)s of %(target)s spent") % {
            "progress": money_format(progress),
            "target": money_format(target),
        }
    values = {"progress": int(progress), "target": int(target)}
    count = int(target)
    if goal == PURCHASE_COUNT:
        text = ngettext(
            "%(progress)s of %(target)s purchase", "%(progress)s of %(target)s purchases", count
        )
    elif goal == STORES_VISITED:
        text = ngettext(
            "%(progress)s of %(target)s store visited",
            "%(progress)s of %(target)s stores visited",
            count,
        )
    elif goal == REFERRALS:
        text = ngettext(
            "%(progress)s of %(target)s friend referred",
            "%(progress)s of %(target)s friends referred",
            count,
        )
    elif goal == EVENT_COUNT:
        text = ngettext(
            "%(progress)s of %(target)s time", "%(progress)s of %(target)s times", count
        )
    elif goal == WEEKLY_STREAK:
        text = ngettext(
            "%(progress)s of %(target)s week in a row",
            "%(progress)s of %(target)s weeks in a row",
            count,
        )
    else:
        raise ValueError(goal)
    return text % values


def progress_percent(*, progress: Decimal | int, target: Decimal | int) -> int:
    """0 to 100, rounded down: a bar is full only when the goal is met."""
    if not target or target <= 0:
        return 0
    return max(0, min(100, math.floor(Decimal(progress) * 100 / Decimal(target))))


def time_left_text(*, ends_at: datetime | None, now: datetime) -> str:
    """ "12 days left", "Last day", or "" without an end. Days are counted in
    the program's time zone: a challenge ending tomorrow evening has 1 day left."""
    if ends_at is None:
        return ""
    days = (timezone.localdate(ends_at) - timezone.localdate(now)).days
    if ends_at <= now:
        return _("Ended")
    if days <= 0:
        return _("Last day")
    return ngettext("%(count)s day left", "%(count)s days left", days) % {"count": days}
