"""The marketers' pages of challenges and badges (marketers and managers):
the challenge list with participants and completions, create and edit (the
service's refusals shown on the form's fields), a challenge's results
(participants, completion rate, points awarded, and the purchase frequency
of participants against the audience members who did not join), and the
badges: list, create and edit with a built-in icon picked or a picture
uploaded. Every write goes through campaigns.challenges, which audits it."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.generic import FormView, TemplateView

from campaigns.challenge_forms import BadgeForm, ChallengeForm
from campaigns.challenge_portal_views import BadgeView, how_to_earn_text
from campaigns.challenge_reports import (
    badge_awarding_challenges,
    badge_holder_counts,
    challenge_participants,
    challenge_participation_counts,
)
from campaigns.challenge_selectors import (
    ChallengeResults,
    badge_get,
    badge_list,
    challenge_get,
    challenge_list,
    challenge_results,
    challenge_status,
)
from campaigns.challenge_texts import goal_text, progress_text
from campaigns.challenges import badge_create, badge_update, challenge_create, challenge_update
from campaigns.models import Badge, CampaignStatus, Challenge, ParticipationStatus
from loyalty.access import StaffRequiredMixin
from loyalty.actors import Actor
from loyalty.errors import DomainError, NotFound
from loyalty.forms import form_errors_from
from loyalty.roles import MANAGE_MARKETING

PARTICIPANTS_PER_PAGE = 50


def window_text(challenge: Challenge) -> str:
    """ "1 Dec 2026 – 31 Dec 2026", "from 1 Dec 2026", with "30 days from joining"."""
    start = formats.date_format(timezone.localtime(challenge.starts_at), "j M Y")
    if challenge.ends_at:
        end = formats.date_format(timezone.localtime(challenge.ends_at), "j M Y")
        text = _("%(start)s – %(end)s") % {"start": start, "end": end}
    else:
        text = _("from %(start)s") % {"start": start}
    if challenge.rolling_days:
        text = _("%(window)s, %(days)s days from joining") % {
            "window": text,
            "days": challenge.rolling_days,
        }
    return text


def result_figures(results: ChallengeResults) -> dict[str, Any]:
    """The results page's rates in the reader's number format: the completion
    rate in percent, purchases per member to one decimal, and how much more
    (or less) often participants bought than the others."""
    lift = None
    others = results.purchase_frequency_others
    if others:
        lift = round((results.purchase_frequency_participants / others - 1) * 100)
    return {
        "completion_percent": formats.number_format(round(results.completion_rate * 100, 1), 1),
        "participants_frequency": formats.number_format(results.purchase_frequency_participants, 1),
        "others_frequency": formats.number_format(others, 1),
        "lift_percent": lift,
        "lift_less": -lift if lift is not None else None,
    }


def _challenge_or_404(challenge_id: int) -> Challenge:
    try:
        return challenge_get(challenge_id=challenge_id)
    except NotFound as error:
        raise Http404 from error


class ChallengeListView(StaffRequiredMixin, TemplateView):
    permission_required = MANAGE_MARKETING
    template_name = "staff/campaigns/challenge_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        challenges = list(challenge_list())
        counts = challenge_participation_counts(challenge_ids=[c.pk for c in challenges])
        now = timezone.now()
        rows = []
        for challenge in challenges:
            participants, completed = counts.get(challenge.pk, (0, 0))
            status = challenge_status(challenge=challenge, now=now)
            rows.append(
                {
                    "id": challenge.pk,
                    "name": challenge.name,
                    "opt_in": challenge.opt_in,
                    "leaderboard": challenge.leaderboard,
                    "goal_text": goal_text(challenge=challenge),
                    "status": status,
                    "status_label": CampaignStatus(status).label,
                    "window_text": window_text(challenge),
                    "participants": participants,
                    "completed": completed,
                }
            )
        return super().get_context_data(rows=rows, **kwargs)


class ChallengeCreateView(StaffRequiredMixin, FormView):
    permission_required = MANAGE_MARKETING
    template_name = "staff/campaigns/challenge_form.html"
    form_class = ChallengeForm

    def get_initial(self) -> dict[str, Any]:
        return {
            "starts_at": timezone.localtime().replace(second=0, microsecond=0),
            "status": CampaignStatus.DRAFT,
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(badges_exist=badge_list().exists(), **kwargs)

    def form_valid(self, form: ChallengeForm) -> HttpResponse:
        try:
            challenge = challenge_create(
                actor=Actor.from_request(self.request),
                tiers=list(form.cleaned_data["tiers"]),
                **form.changes(),
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("Challenge %(name)s created.") % {"name": challenge.name})
        return redirect("staff:challenge_list")


class ChallengePageMixin(StaffRequiredMixin):
    permission_required = MANAGE_MARKETING

    @cached_property
    def challenge(self) -> Challenge:
        return _challenge_or_404(self.kwargs["challenge_id"])


class ChallengeUpdateView(ChallengePageMixin, FormView):
    template_name = "staff/campaigns/challenge_form.html"
    form_class = ChallengeForm

    @cached_property
    def status_now(self) -> str:
        return challenge_status(challenge=self.challenge, now=timezone.now())

    def get_form_kwargs(self) -> dict[str, Any]:
        # A fresh copy: the form writes its values onto its instance while validating.
        instance = Challenge.objects.get(pk=self.challenge.pk)
        return {**super().get_form_kwargs(), "instance": instance, "status_now": self.status_now}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            challenge=self.challenge, badges_exist=badge_list().exists(), **kwargs
        )

    def form_valid(self, form: ChallengeForm) -> HttpResponse:
        changes = form.changes()
        status = changes.pop("status")
        try:
            challenge_update(
                actor=Actor.from_request(self.request),
                challenge=self.challenge,
                tiers=list(form.cleaned_data["tiers"]),
                status=None if status == self.status_now else status,
                **changes,
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request, _("Challenge %(name)s saved.") % {"name": form.cleaned_data["name"]}
        )
        return redirect("staff:challenge_list")


class ChallengeResultsView(ChallengePageMixin, TemplateView):
    template_name = "staff/campaigns/challenge_results.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        challenge = self.challenge
        results = challenge_results(challenge=challenge, now=timezone.now())
        page = Paginator(
            challenge_participants(challenge=challenge), PARTICIPANTS_PER_PAGE
        ).get_page(self.request.GET.get("page"))
        now = timezone.now()
        participants = []
        for participation in page:
            expired = (
                participation.status == ParticipationStatus.IN_PROGRESS
                and participation.ends_at is not None
                and participation.ends_at <= now
            )
            status = ParticipationStatus.EXPIRED if expired else participation.status
            member = participation.member
            participants.append(
                {
                    "public_id": member.public_id,
                    "member_name": member.full_name or member.email or member.card_number,
                    "joined_at": participation.joined_at,
                    "progress_text": progress_text(
                        goal=challenge.goal,
                        progress=participation.progress,
                        target=challenge.target,
                    ),
                    "status": status,
                    "status_label": ParticipationStatus(status).label,
                    "points_reversed": participation.points_reversed,
                }
            )
        page.object_list = participants
        return super().get_context_data(
            challenge=challenge,
            goal_text=goal_text(challenge=challenge),
            window_text=window_text(challenge),
            results=results,
            figures=result_figures(results),
            participants=page,
            **kwargs,
        )


class BadgeListView(StaffRequiredMixin, TemplateView):
    permission_required = MANAGE_MARKETING
    template_name = "staff/campaigns/badge_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        badges = list(badge_list())
        holders = badge_holder_counts(badge_ids=[b.pk for b in badges])
        awarded_by = badge_awarding_challenges(badge_ids=[b.pk for b in badges])
        return super().get_context_data(
            badges=[
                BadgeView.of(
                    badge,
                    holders=holders.get(badge.pk, 0),
                    how_to_earn=tuple(how_to_earn_text(c) for c in awarded_by.get(badge.pk, [])),
                )
                for badge in badges
            ],
            **kwargs,
        )


class BadgeCreateView(StaffRequiredMixin, FormView):
    permission_required = MANAGE_MARKETING
    template_name = "staff/campaigns/badge_form.html"
    form_class = BadgeForm

    def form_valid(self, form: BadgeForm) -> HttpResponse:
        try:
            badge = badge_create(actor=Actor.from_request(self.request), **form.changes())
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("Badge %(name)s created.") % {"name": badge.name})
        return redirect("staff:badge_list")


class BadgeUpdateView(StaffRequiredMixin, FormView):
    permission_required = MANAGE_MARKETING
    template_name = "staff/campaigns/badge_form.html"
    form_class = BadgeForm

    @cached_property
    def badge(self) -> Badge:
        try:
            return badge_get(badge_id=self.kwargs["badge_id"])
        except NotFound as error:
            raise Http404 from error

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "instance": Badge.objects.get(pk=self.badge.pk)}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            badge=self.badge, badge_view=BadgeView.of(self.badge), **kwargs
        )

    def form_valid(self, form: BadgeForm) -> HttpResponse:
        try:
            badge_update(actor=Actor.from_request(self.request), badge=self.badge, **form.changes())
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request, _("Badge %(name)s saved.") % {"name": form.cleaned_data["name"]}
        )
        return redirect("staff:badge_list")
