"""Member pages of challenges and badges (phone first, no JavaScript needed):
the challenges page (bars of those under way, a join button on the opt-in
ones, the completed ones, and "points reversed" where the completing sale
came back), the badge wall (earned and locked, how to earn each), a
challenge's leaderboard with the nickname form, and the home page's panel
of what the last purchase moved (registered in members.portal_panels by
CampaignsConfig.ready).

Every read is the member's own, through campaigns.challenge_selectors;
joining and nicknames go through campaigns.challenges. A leaderboard shows
nicknames only, never a name or an email.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View
from django.views.generic import TemplateView

from campaigns.challenge_forms import NicknameForm
from campaigns.challenge_reports import member_last_purchase
from campaigns.challenge_selectors import (
    MemberChallenge,
    challenges_for_member,
    challenges_moved_by_purchase,
    leaderboard,
    member_badges,
)
from campaigns.challenge_texts import goal_text, progress_text, reward_text
from campaigns.challenges import challenge_join, leaderboard_join, leaderboard_leave
from campaigns.models import MONEY_GOALS, Badge, BadgeRarity, Challenge, ChallengeGoal
from loyalty.errors import DomainError
from loyalty.money import money_format
from members.access import MemberRequiredMixin
from members.models import Member
from members.portal_panels import PortalPanel


@dataclass(frozen=True)
class BadgeView:
    """A badge as the pages draw it (templates/partials/badge_icon.html)."""

    id: int
    name: str
    description: str
    icon_key: str
    icon_url: str
    rarity: str
    rarity_label: str
    earned_at: datetime | None = None
    times: int = 0
    how_to_earn: tuple[str, ...] = ()
    holders: int = 0

    @classmethod
    def of(cls, badge: Badge, **extra: Any) -> BadgeView:
        image_url = badge.image.url if badge.image else ""
        return cls(
            id=badge.pk,
            name=badge.name,
            description=badge.description,
            icon_key="" if image_url else badge.icon,
            icon_url=image_url,
            rarity=badge.rarity,
            rarity_label=BadgeRarity(badge.rarity).label,
            **extra,
        )


@dataclass(frozen=True)
class ChallengeCard:
    """One challenge on the member's pages, in words (campaigns.challenge_texts)."""

    id: int
    name: str
    description: str
    goal_text: str
    status: str
    show_progress: bool
    progress_text: str
    percent: int
    time_left_text: str
    reward_text: str
    badge: BadgeView | None
    joinable: bool
    completed: bool
    completed_at: datetime | None
    times_completed: int
    points_reversed: bool
    streak_broken: bool
    leaderboard: bool


def days_left_text(days_left: int | None) -> str:
    """ "12 days left", "Last day", or "" for a challenge without an end."""
    if days_left is None:
        return ""
    if days_left <= 0:
        return _("Last day")
    return ngettext("%(count)s day left", "%(count)s days left", days_left) % {"count": days_left}


def how_to_earn_text(challenge: Challenge) -> str:
    """One way to earn a badge: "Coffee lover: make 3 purchases within 30 days of joining"."""
    return _("%(challenge)s: %(goal)s") % {
        "challenge": challenge.name,
        "goal": goal_text(challenge=challenge),
    }


def challenge_card(item: MemberChallenge) -> ChallengeCard:
    challenge = item.challenge
    running = item.status == "in_progress"
    return ChallengeCard(
        id=challenge.pk,
        name=challenge.name,
        description=challenge.description,
        goal_text=goal_text(challenge=challenge),
        status=item.status,
        show_progress=not item.joinable,
        progress_text=progress_text(
            goal=challenge.goal, progress=item.progress, target=item.target
        ),
        percent=item.percent,
        time_left_text=days_left_text(item.days_left) if running or item.joinable else "",
        reward_text=reward_text(challenge=challenge),
        badge=BadgeView.of(challenge.badge) if challenge.badge_id else None,
        joinable=item.joinable,
        completed=item.status == "completed",
        completed_at=item.completed_at,
        times_completed=item.times_completed,
        points_reversed=item.points_reversed,
        streak_broken=item.streak_broken and running,
        leaderboard=challenge.leaderboard,
    )


class PortalChallengesView(MemberRequiredMixin, TemplateView):
    """The member's challenges: under way, to join, completed, missed."""

    template_name = "portal/campaigns/challenges.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        items = challenges_for_member(member=self.member, now=timezone.now())
        cards = [challenge_card(item) for item in items]
        groups: dict[str, list[ChallengeCard]] = {
            "in_progress": [],
            "joinable": [],
            "completed": [],
            "expired": [],
        }
        for card in cards:
            if card.joinable:
                groups["joinable"].append(card)
            elif card.status in ("completed", "expired"):
                groups[card.status].append(card)
            else:
                groups["in_progress"].append(card)
        return super().get_context_data(**groups, **kwargs)


class PortalChallengeJoinView(MemberRequiredMixin, View):
    """POST only: join an opt-in challenge, back to the challenges page."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, challenge_id: int) -> HttpResponseRedirect:
        challenge = _member_challenge(self.member, challenge_id)
        try:
            challenge_join(member=self.member, challenge=challenge)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("You joined %(name)s: what you buy from now on counts.")
                % {"name": challenge.name},
            )
        return redirect("portal:challenges")


def _member_challenge(member: Member, challenge_id: int) -> Challenge:
    """A challenge the member can see (live in their audience, or one they took part in)."""
    for item in challenges_for_member(member=member, now=timezone.now()):
        if item.challenge.pk == challenge_id:
            return item.challenge
    raise Http404


class PortalBadgesView(MemberRequiredMixin, TemplateView):
    """The badge wall: every badge, earned or locked, and how to earn the locked ones."""

    template_name = "portal/campaigns/badges.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        badges = [
            BadgeView.of(
                item.badge,
                earned_at=item.earned_at,
                times=item.times,
                how_to_earn=tuple(how_to_earn_text(c) for c in item.how_to_earn),
            )
            for item in member_badges(member=self.member)
        ]
        # Earned first (newest first), then the locked ones as the program lists them.
        badges.sort(
            key=lambda b: (b.earned_at is None, -b.earned_at.timestamp() if b.earned_at else 0)
        )
        return super().get_context_data(
            badges=badges, earned_count=sum(1 for b in badges if b.earned_at), **kwargs
        )


# The leaderboard's value column, by goal.
def value_label(goal: str) -> str:
    return {
        ChallengeGoal.PURCHASE_COUNT: _("Purchases"),
        ChallengeGoal.SPEND: _("Spent"),
        ChallengeGoal.CATEGORY_SPEND: _("Spent"),
        ChallengeGoal.STORES_VISITED: _("Stores"),
        ChallengeGoal.REFERRALS: _("Friends"),
        ChallengeGoal.EVENT_COUNT: _("Times"),
        ChallengeGoal.WEEKLY_STREAK: _("Weeks in a row"),
    }[goal]


def value_text(goal: str, value: Decimal) -> str:
    return money_format(value) if goal in MONEY_GOALS else str(int(value))


class PortalLeaderboardView(MemberRequiredMixin, TemplateView):
    """A challenge's ranking by nickname; the member's own row marked."""

    template_name = "portal/campaigns/leaderboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        challenge = _member_challenge(self.member, self.kwargs["challenge_id"])
        if not challenge.leaderboard:
            raise Http404
        rows = [
            {
                "rank": row.rank,
                "nickname": row.nickname,
                "value_text": value_text(challenge.goal, row.progress),
                "is_me": row.member_id == self.member.pk,
            }
            for row in leaderboard(challenge=challenge, now=timezone.now())
        ]
        profile = getattr(self.member, "leaderboard_profile", None)
        nickname = profile.nickname if profile else ""
        return super().get_context_data(
            card={"name": challenge.name, "goal_text": goal_text(challenge=challenge)},
            rows=rows,
            value_label=value_label(challenge.goal),
            nickname=nickname,
            nickname_form=NicknameForm(initial={"nickname": nickname}),
            **kwargs,
        )


class PortalNicknameView(MemberRequiredMixin, View):
    """POST only: show me on the leaderboards under this nickname, or take me off."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponseRedirect:
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ) or not back.startswith("/portal/"):
            back = "portal:challenges"
        if request.POST.get("action") == "leave":
            leaderboard_leave(member=self.member)
            messages.success(request, _("You are off the leaderboards."))
            return redirect(back)
        form = NicknameForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect(back)
        try:
            profile = leaderboard_join(member=self.member, nickname=form.cleaned_data["nickname"])
        except DomainError as error:
            for field_messages in (error.fields or {}).values():
                for message in field_messages:
                    messages.error(request, message)
            if not error.fields:
                messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("You appear on the leaderboards as %(nickname)s.")
                % {"nickname": profile.nickname},
            )
        return redirect(back)


def challenges_panel(member: Member, now: datetime) -> PortalPanel | None:
    """The home page's challenges: what the last purchase moved, the others
    under way, how many wait to be joined; None for a member with none."""
    items = challenges_for_member(member=member, now=now)
    if not items:
        return None
    moved, moved_at = _moved_by_last_purchase(member)
    moved_ids = {card.id for card in moved}
    cards = [challenge_card(item) for item in items]
    return PortalPanel(
        template="portal/campaigns/challenges_panel.html",
        context={
            "moved": moved,
            "moved_at": moved_at,
            "others": [c for c in cards if c.status == "in_progress" and c.id not in moved_ids],
            "joinable": sum(1 for c in cards if c.joinable),
        },
    )


def _moved_by_last_purchase(member: Member) -> tuple[list[ChallengeCard], datetime | None]:
    last = member_last_purchase(member=member)
    if last is None:
        return [], None
    purchase_id, occurred_at = last
    moved = challenges_moved_by_purchase(member=member, purchase_id=purchase_id)
    return [challenge_card(item) for item in moved], occurred_at
