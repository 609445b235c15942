"""The forms of the at-risk page: validation only (analytics.predictions and
members.segments check again and write)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty import limits
from loyalty.models import Store
from members.models import Tier
from members.segments import NAME_MAX_LENGTH

RISK_DEFAULT = 50


class AtRiskFilterForm(forms.Form):
    """Who is at risk (GET): a churn risk and a value from which a member is listed."""

    risk = forms.IntegerField(
        label=_("Churn risk from (%)"),
        min_value=0,
        max_value=100,
        required=False,
        help_text=_("0 to 100: the predicted chance the member has stopped buying."),
    )
    value = forms.DecimalField(
        label=_("Value from"),
        min_value=Decimal("0.00"),
        max_value=limits.MONEY_MAX,
        decimal_places=2,
        required=False,
        help_text=_("The predicted 12-month value or the spend to date, whichever is higher."),
    )
    tier = forms.ModelChoiceField(
        label=_("Tier"),
        queryset=Tier.objects.order_by("threshold"),
        to_field_name="code",
        required=False,
        empty_label=_("Every tier"),
    )
    home_store = forms.ModelChoiceField(
        label=_("Home store"),
        queryset=Store.objects.order_by("name"),
        to_field_name="code",
        required=False,
        empty_label=_("Every store"),
    )

    def choice(self) -> dict[str, Any]:
        """The filter asked for, its defaults where a field is empty or invalid."""
        data = self.cleaned_data if self.is_valid() else {}
        tier, store = data.get("tier"), data.get("home_store")
        risk, value = data.get("risk"), data.get("value")
        return {
            "risk_percent": RISK_DEFAULT if risk is None else risk,
            "value_min": Decimal("0.00") if value is None else value,
            "tier": tier.code if tier else None,
            "home_store": store.code if store else None,
        }


class AtRiskSegmentForm(AtRiskFilterForm):
    """ "Make a segment" (POST): the filter shown and the segment's name."""

    name = forms.CharField(label=_("Segment name"), max_length=NAME_MAX_LENGTH)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The filter travels with the form, as shown above it.
        for name in AtRiskFilterForm.base_fields:
            self.fields[name].widget = forms.HiddenInput()
