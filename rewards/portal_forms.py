"""Forms of the member's rewards pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from rewards.models import RewardCategory


class RewardFilterForm(forms.Form):
    """The catalogue's filters, sent by GET so a filtered list can be bookmarked."""

    category = forms.ModelChoiceField(
        label=_("Category"),
        queryset=RewardCategory.objects.all(),
        to_field_name="slug",
        required=False,
        empty_label=_("All categories"),
    )
    affordable = forms.BooleanField(label=_("Only what I can afford"), required=False)


class RedeemConfirmForm(forms.Form):
    """The confirmation step. `token` is signed by the page that showed the
    confirmation (rewards.selectors.redemption_token_get);
    rewards.services.redemption_confirm checks it."""

    token = forms.CharField(widget=forms.HiddenInput)
