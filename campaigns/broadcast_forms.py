"""The forms of the broadcast pages: validation only (campaigns.broadcasts
checks again and writes)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from campaigns.models import Broadcast, CampaignStatus
from campaigns.staff_forms import DATETIME_INPUT
from rewards.models import Reward


class BroadcastForm(forms.ModelForm):
    class Meta:
        model = Broadcast
        fields = [
            "title_en",
            "body_en",
            "title_ms",
            "body_ms",
            "image",
            "segment",
            "reward",
            "campaign",
        ]
        widgets = {
            "body_en": forms.Textarea(attrs={"rows": 4}),
            "body_ms": forms.Textarea(attrs={"rows": 4}),
            "image": forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["segment"].empty_label = _("Every member")
        self.fields["reward"].empty_label = _("No link")
        self.fields["campaign"].empty_label = _("No link")
        self.fields["reward"].help_text = _("The message opens the reward's page in the portal.")
        self.fields["campaign"].help_text = _(
            "The message opens the portal home, where members see their offers."
        )
        # Only what members can see, besides what the broadcast already links to.
        self.fields["reward"].queryset = Reward.objects.filter(
            Q(active=True, archived_at__isnull=True) | Q(pk=self.instance.reward_id)
        ).order_by("name")
        self.fields["campaign"].queryset = (
            self.fields["campaign"]
            .queryset.filter(~Q(status=CampaignStatus.ENDED) | Q(pk=self.instance.campaign_id))
            .order_by("name")
        )

    def changes(self) -> dict[str, Any]:
        """The cleaned values as the services take them: the picture only when
        one was uploaded (a file) or removed ("")."""
        values = dict(self.cleaned_data)
        image = values.pop("image", None)
        if image is False:
            values["image"] = ""
        elif image and "image" in self.changed_data:
            values["image"] = image
        return values


class BroadcastScheduleForm(forms.Form):
    scheduled_at = forms.DateTimeField(
        label=_("Send at"),
        widget=DATETIME_INPUT,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text=_("In the program's time zone; at most a year ahead."),
    )
