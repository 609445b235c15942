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

from campaigns.models import MONEY_GOALS, Challenge, ChallengeGoal
from loyalty.money import money_format


def goal_what(*, challenge: Challenge) -> str:
    """The goal alone: "make 3 purchases", "spend RM 100.00 on Coffee or Tea"."""
    goal, target = challenge.goal, challenge.target
    count = int(target)
    if goal == ChallengeGoal.PURCHASE_COUNT:
        return ngettext("make %(count)s purchase", "make %(count)s purchases", count) % {
            "count": count
        }
    if goal == ChallengeGoal.SPEND:
        return _("spend %(amount)s") % {"amount": money_format(target)}
    if goal == ChallengeGoal.CATEGORY_SPEND:
        lines = [*challenge.categories, *challenge.skus]
        return _("spend %(amount)s on %(lines)s") % {
            "amount": money_format(target),
            "lines": get_text_list([str(line) for line in lines], _("or")),
        }
    if goal == ChallengeGoal.STORES_VISITED:
        return ngettext(
            "shop at %(count)s different store", "shop at %(count)s different stores", count
        ) % {"count": count}
    if goal == ChallengeGoal.REFERRALS:
        return ngettext(
            "bring %(count)s friend who makes a purchase",
            "bring %(count)s friends who make a purchase",
            count,
        ) % {"count": count}
    if goal == ChallengeGoal.EVENT_COUNT:
        return ngettext(
            "do “%(event)s” %(count)s time", "do “%(event)s” %(count)s times", count
        ) % {
            "event": challenge.event,
            "count": count,
        }
    if goal == ChallengeGoal.WEEKLY_STREAK:
        return ngettext(
            "buy something every week for %(count)s week",
            "buy something every week for %(count)s weeks in a row",
            count,
        ) % {"count": count}
    raise ValueError(goal)


def goal_text(*, challenge: Challenge) -> str:
    """The whole ask, as a sentence: the goal, its window, the missed weeks forgiven."""
    what = goal_what(challenge=challenge)
    if challenge.rolling_days:
        sentence = ngettext(
            "%(what)s within %(days)s day of joining",
            "%(what)s within %(days)s days of joining",
            challenge.rolling_days,
        ) % {"what": what, "days": challenge.rolling_days}
    elif challenge.ends_at is not None:
        sentence = _("%(what)s by %(date)s") % {
            "what": what,
            "date": formats.date_format(timezone.localtime(challenge.ends_at), "j M Y"),
        }
    else:
        sentence = what
    if challenge.goal == ChallengeGoal.WEEKLY_STREAK and challenge.streak_freezes:
        sentence = ngettext(
            "%(goal)s (%(count)s missed week forgiven)",
            "%(goal)s (%(count)s missed weeks forgiven)",
            challenge.streak_freezes,
        ) % {"goal": sentence, "count": challenge.streak_freezes}
    return sentence[:1].upper() + sentence[1:]


def reward_text(*, challenge: Challenge) -> str:
    """What completing pays: "100 points, the Regular badge and Free latte"."""
    parts = []
    if challenge.reward_points:
        parts.append(
            ngettext("%(points)s point", "%(points)s points", challenge.reward_points)
            % {"points": challenge.reward_points}
        )
    if challenge.badge_id:
        parts.append(_("the %(badge)s badge") % {"badge": challenge.badge.name})
    if challenge.reward_id:
        parts.append(str(challenge.reward.name))
    return get_text_list(parts, _("and"))


def progress_text(*, goal: str, progress: Decimal | int, target: Decimal | int) -> str:
    """How far the member has come: "2 of 3 purchases", "RM 40.00 of RM 100.00 spent"."""
    if goal in MONEY_GOALS:
        return _("%(progress)s of %(target)s spent") % {
            "progress": money_format(progress),
            "target": money_format(target),
        }
    values = {"progress": int(progress), "target": int(target)}
    count = int(target)
    if goal == ChallengeGoal.PURCHASE_COUNT:
        text = ngettext(
            "%(progress)s of %(target)s purchase", "%(progress)s of %(target)s purchases", count
        )
    elif goal == ChallengeGoal.STORES_VISITED:
        text = ngettext(
            "%(progress)s of %(target)s store visited",
            "%(progress)s of %(target)s stores visited",
            count,
        )
    elif goal == ChallengeGoal.REFERRALS:
        text = ngettext(
            "%(progress)s of %(target)s friend referred",
            "%(progress)s of %(target)s friends referred",
            count,
        )
    elif goal == ChallengeGoal.EVENT_COUNT:
        text = ngettext(
            "%(progress)s of %(target)s time", "%(progress)s of %(target)s times", count
        )
    elif goal == ChallengeGoal.WEEKLY_STREAK:
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
