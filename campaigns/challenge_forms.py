"""Forms of the challenge and badge pages. They check the shape of the input
(numbers in their columns' bounds, lines split, milestones read); the rules
(a count goal takes a whole number, an event goal needs its event, a joined
challenge keeps its goal, a nickname is not the member's name) are
campaigns.challenges' and come back as its ValidationFailed messages."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns.models import (
    BADGE_DESCRIPTION_MAX_LENGTH,
    CHALLENGE_FILTER_MAX,
    NICKNAME_MAX_LENGTH,
    STREAK_MILESTONES_MAX,
    STREAK_WEEKS_MAX,
    Badge,
    BadgeIcon,
    CampaignStatus,
    Challenge,
)
from campaigns.staff_forms import DATETIME_INPUT
from loyalty import limits
from members.models import Tier

# "4: 50" — a streak of 4 weeks pays 50 points.
MILESTONE = re.compile(r"^\s*(\d{1,4})\s*[:=]\s*(\d{1,12})\s*$")
STATUSES = [
    (CampaignStatus.DRAFT, _("Draft: members do not see it")),
    (CampaignStatus.SCHEDULED, _("Live from its start")),
    (CampaignStatus.PAUSED, _("Paused")),
    (CampaignStatus.ENDED, _("Ended")),
]


def _lines(value: str) -> list[str]:
    """Entries one a line or separated by commas."""
    return [
        part.strip() for chunk in value.splitlines() for part in chunk.split(",") if part.strip()
    ]


class ChallengeForm(forms.ModelForm):
    tiers = forms.ModelMultipleChoiceField(
        label=_("Tiers"),
        queryset=Tier.objects.order_by("threshold"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only members of the ticked tiers. None ticked: every tier."),
    )
    categories = forms.CharField(
        label=_("Categories"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Spend in categories or products: one a line or separated by commas."),
    )
    skus = forms.CharField(
        label=_("SKUs"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Spend in categories or products: one a line or separated by commas."),
    )
    streak_milestones = forms.CharField(
        label=_("Streak milestones"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Weekly streak: bonus points at a length, one a line, e.g. 4: 50 and 12: 200."),
    )
    status = forms.ChoiceField(label=_("Status"), choices=STATUSES)

    class Meta:
        model = Challenge
        fields = [
            "name",
            "description",
            "goal",
            "target",
            "categories",
            "skus",
            "event",
            "streak_freezes",
            "streak_milestones",
            "starts_at",
            "ends_at",
            "rolling_days",
            "opt_in",
            "tiers",
            "segment",
            "reward_points",
            "badge",
            "reward",
            "repeatable",
            "leaderboard",
            "status",
        ]
        widgets = {
            "starts_at": DATETIME_INPUT,
            "ends_at": DATETIME_INPUT,
            "description": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "target": _(
                "Purchases, stores, friends, events or weeks (a whole number), or an amount "
                "for the spend goals."
            ),
            "event": _("Number of events: the event's name as the till or app posts it."),
            "streak_freezes": _("Weekly streak: weeks without a purchase that do not break it."),
            "leaderboard": _("Members who chose a nickname see a ranking of this challenge."),
        }

    def __init__(self, *args: Any, status_now: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if status_now == CampaignStatus.ACTIVE:
            # A live challenge stays live; "scheduled" would be a step back.
            self.fields["status"].choices = [
                (CampaignStatus.ACTIVE, _("Live now"))
                if value == CampaignStatus.SCHEDULED
                else (value, label)
                for value, label in STATUSES
            ]
        if status_now is not None and not self.is_bound:
            self.initial["status"] = status_now
        if self.instance.pk and not self.is_bound:
            challenge = self.instance
            self.initial.update(
                categories="\n".join(challenge.categories),
                skus="\n".join(challenge.skus),
                streak_milestones="\n".join(
                    f"{m['weeks']}: {m['points']}" for m in challenge.streak_milestones
                ),
                tiers=list(challenge.tiers.all()),
            )

    def _clean_lines(self, name: str) -> list[str]:
        lines = _lines(self.cleaned_data.get(name) or "")
        if len(lines) > CHALLENGE_FILTER_MAX:
            raise forms.ValidationError(
                _("At most %(count)s entries.") % {"count": CHALLENGE_FILTER_MAX}
            )
        return lines

    def clean_categories(self) -> list[str]:
        return self._clean_lines("categories")

    def clean_skus(self) -> list[str]:
        return self._clean_lines("skus")

    def clean_streak_milestones(self) -> list[dict[str, int]]:
        milestones = []
        for line in (self.cleaned_data.get("streak_milestones") or "").splitlines():
            if not line.strip():
                continue
            match = MILESTONE.match(line)
            if match is None:
                raise forms.ValidationError(
                    _("Write each milestone as weeks: points, e.g. 4: 50 (not “%(line)s”).")
                    % {"line": line.strip()[:40]}
                )
            weeks, points = int(match[1]), int(match[2])
            if not 1 <= weeks <= STREAK_WEEKS_MAX or not 1 <= points <= limits.POINTS_MAX:
                raise forms.ValidationError(
                    _("A milestone is 1 to %(weeks)s weeks and 1 to %(points)s points.")
                    % {"weeks": STREAK_WEEKS_MAX, "points": limits.POINTS_MAX}
                )
            milestones.append({"weeks": weeks, "points": points})
        if len(milestones) > STREAK_MILESTONES_MAX:
            raise forms.ValidationError(
                _("At most %(count)s milestones.") % {"count": STREAK_MILESTONES_MAX}
            )
        return milestones

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", _("The end must be after the start."))
        return data

    def changes(self) -> dict[str, Any]:
        """The challenge's fields for campaigns.challenges (the tiers apart)."""
        return {
            name: self.cleaned_data[name] for name in self.Meta.fields if name not in ("tiers",)
        }


class BadgeForm(forms.ModelForm):
    # The field the template draws as the picker of the built-in icons.
    picker_field = "icon"

    class Meta:
        model = Badge
        fields = ["name", "description", "rarity", "icon", "image"]
        widgets = {
            "icon": forms.RadioSelect,
            "image": forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
            "description": forms.Textarea(
                attrs={"rows": 2, "maxlength": BADGE_DESCRIPTION_MAX_LENGTH}
            ),
        }
        labels = {"icon": _("Built-in icon")}
        help_texts = {
            "icon": _("Drawn in the program's colour. An uploaded picture shows instead."),
            "description": _("What members read on their badge wall."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["icon"].choices = BadgeIcon.choices

    def changes(self) -> dict[str, Any]:
        """The badge's fields; the picture only when uploaded or removed."""
        values = dict(self.cleaned_data)
        image = values.pop("image", None)
        if image is False:
            values["image"] = ""
        elif image and "image" in self.changed_data:
            values["image"] = image
        return values


class NicknameForm(forms.Form):
    nickname = forms.CharField(
        label=_("Nickname"),
        max_length=NICKNAME_MAX_LENGTH,
        required=False,
        help_text=_("What other members see on the leaderboards: not your name or email."),
    )
