"""Forms of the marketers' campaign pages. A campaign's form shows the fields
every campaign has and those of its kind only (the kind is chosen first, on
its own page, so the form works without JavaScript). The forms check the
shape of the input; campaigns.params and campaigns.services check the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns.models import HOLDOUT_MAX, Campaign, CampaignKind, CampaignStatus
from campaigns.params import BONUS_POINTS_MAX, FACTOR_MAX, FACTOR_MIN, MONTHLY_CAP_MAX
from loyalty import limits
from loyalty.models import Store
from loyalty.money import MONEY
from members.models import Tier

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
TIME_INPUT = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
DAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]

# What each kind asks, in the order shown; and the params key each field fills.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    CampaignKind.MULTIPLIER: (
        "factor",
        "days_of_week",
        "hours_from",
        "hours_to",
        "min_spend",
        "categories",
        "skus",
    ),
    CampaignKind.CATEGORY_BONUS: ("categories", "skus", "points", "per_amount"),
    CampaignKind.SPEND_BONUS: ("min_spend", "points", "first_purchase_only"),
    CampaignKind.EVENT: ("event", "points"),
    CampaignKind.SIGNUP: ("points",),
    CampaignKind.BIRTHDAY: ("points", "when"),
    CampaignKind.ANNIVERSARY: ("points",),
    CampaignKind.REFERRAL: (
        "referrer_points",
        "friend_points",
        "min_spend",
        "within_days",
        "monthly_cap",
    ),
}
PARAM_FIELDS = sorted({name for names in KIND_FIELDS.values() for name in names})
# A kind whose min_spend must be given.
MIN_SPEND_REQUIRED = (CampaignKind.SPEND_BONUS, CampaignKind.REFERRAL)

KIND_DESCRIPTIONS = {
    CampaignKind.MULTIPLIER: _(
        "Multiply the points of a sale (or of some products) on chosen days and hours, "
        "e.g. double points at weekends."
    ),
    CampaignKind.CATEGORY_BONUS: _(
        "Extra points for every amount spent in some categories or on some products."
    ),
    CampaignKind.SPEND_BONUS: _(
        "A fixed bonus once a sale reaches an amount, optionally on the first purchase only."
    ),
    CampaignKind.EVENT: _(
        "Points for something the member does outside a sale: a review, a share, an app download."
    ),
    CampaignKind.SIGNUP: _("A welcome bonus when a member joins."),
    CampaignKind.BIRTHDAY: _("Points on the member's birthday, or in their birthday month."),
    CampaignKind.ANNIVERSARY: _("Points on each anniversary of joining."),
    CampaignKind.REFERRAL: _(
        "Points for a member and the friend they bring, once the friend's first qualifying "
        "sale is recorded."
    ),
}


def _lines(value: str) -> list[str]:
    """Entries one a line or separated by commas."""
    return [
        part.strip() for chunk in value.splitlines() for part in chunk.split(",") if part.strip()
    ]


class CampaignForm(forms.ModelForm):
    tiers = forms.ModelMultipleChoiceField(
        label=_("Tiers"),
        queryset=Tier.objects.order_by("threshold"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only members of the ticked tiers. None ticked: every tier."),
    )
    stores = forms.ModelMultipleChoiceField(
        label=_("Stores"),
        queryset=Store.objects.filter(is_active=True).order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only sales at the ticked stores. None ticked: every store."),
    )
    # The rule of the kind (params); only the kind's fields stay on the form.
    factor = forms.DecimalField(
        label=_("Multiply points by"),
        min_value=FACTOR_MIN,
        max_value=FACTOR_MAX,
        decimal_places=2,
        help_text=_("2 gives double points: the campaign adds the sale's points once more."),
    )
    days_of_week = forms.TypedMultipleChoiceField(
        label=_("Days"),
        choices=DAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every day."),
    )
    hours_from = forms.TimeField(
        label=_("From (time)"), required=False, widget=TIME_INPUT, help_text=_("Empty: all day.")
    )
    hours_to = forms.TimeField(
        label=_("Until (time)"),
        required=False,
        widget=TIME_INPUT,
        help_text=_("Not included. Before the start: runs past midnight."),
    )
    min_spend = forms.DecimalField(
        label=_("Minimum spend"),
        **MONEY,
        min_value=0,
        max_value=limits.MONEY_MAX,
        required=False,
        help_text=_("The sale's eligible amount, after discounts."),
    )
    categories = forms.CharField(
        label=_("Categories"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One a line or separated by commas, as the till sends them."),
    )
    skus = forms.CharField(
        label=_("SKUs"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One a line or separated by commas."),
    )
    points = forms.IntegerField(label=_("Points"), min_value=1, max_value=BONUS_POINTS_MAX)
    per_amount = forms.DecimalField(
        label=_("For every"),
        **MONEY,
        min_value=0.01,
        max_value=limits.MONEY_MAX,
        help_text=_("Points are given for each full amount spent on the matching lines."),
    )
    first_purchase_only = forms.BooleanField(
        label=_("Only on the member's first purchase"), required=False
    )
    event = forms.CharField(
        label=_("Event name"),
        max_length=64,
        help_text=_("As the till or app posts it: review, social_share, app_download…"),
    )
    when = forms.ChoiceField(
        label=_("When"),
        choices=[("day", _("On the birthday")), ("month", _("In the birthday month"))],
    )
    referrer_points = forms.IntegerField(
        label=_("Points for the member who refers"), min_value=1, max_value=BONUS_POINTS_MAX
    )
    friend_points = forms.IntegerField(
        label=_("Points for the friend"), min_value=1, max_value=BONUS_POINTS_MAX
    )
    within_days = forms.IntegerField(
        label=_("Within (days of joining)"), min_value=1, max_value=limits.DAYS_MAX
    )
    monthly_cap = forms.IntegerField(
        label=_("Referrals rewarded per member a month"),
        min_value=1,
        max_value=MONTHLY_CAP_MAX,
        required=False,
        help_text=_("Empty: no limit."),
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "starts_at",
            "ends_at",
            "tiers",
            "segment",
            "stores",
            "budget_points",
            "per_member_cap",
            "cap_period",
            "stackable",
            "priority",
            "holdout_percent",
        ]
        widgets = {"starts_at": DATETIME_INPUT, "ends_at": DATETIME_INPUT}

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        for name in PARAM_FIELDS:
            if name not in KIND_FIELDS[kind]:
                del self.fields[name]
        if "min_spend" in self.fields:
            self.fields["min_spend"].required = kind in MIN_SPEND_REQUIRED
        self.fields["holdout_percent"].max_value = HOLDOUT_MAX
        if kind == CampaignKind.REFERRAL:
            # One referral campaign runs at a time, for every referral: no
            # hold-out, no stacking, its own monthly cap (the service refuses them).
            for name in ("holdout_percent", "per_member_cap", "cap_period", "stackable"):
                del self.fields[name]
        self.order_fields(["name", *KIND_FIELDS[kind]])
        if self.instance.pk and not self.is_bound:
            self.initial.update(self._param_initial(self.instance.params or {}))

    def _param_initial(self, params: dict[str, Any]) -> dict[str, Any]:
        initial: dict[str, Any] = {}
        for name in KIND_FIELDS[self.kind]:
            if name in ("categories", "skus"):
                initial[name] = "\n".join(params.get(name) or [])
            elif name in ("hours_from", "hours_to"):
                hours = params.get("hours")
                if hours:
                    initial[name] = hours[0 if name == "hours_from" else 1]
            elif name in params:
                initial[name] = params[name]
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("hours_from"), data.get("hours_to")
        if (start is None) != (end is None):
            self.add_error("hours_to", _("Give both times, or neither."))
        return data

    def params(self) -> dict[str, Any]:
        """The rule typed, in the shape of API.md's params (checked again by
        the service)."""
        data = self.cleaned_data
        params: dict[str, Any] = {}
        for name in KIND_FIELDS[self.kind]:
            value = data.get(name)
            if name in ("hours_from", "hours_to"):
                continue
            if name in ("categories", "skus"):
                if value:
                    params[name] = _lines(value)
            elif name == "days_of_week":
                if value:
                    params[name] = sorted(value)
            elif name in ("factor", "min_spend", "per_amount"):
                if value is not None:
                    params[name] = f"{value:.2f}"
            elif name == "first_purchase_only":
                params[name] = bool(value)
            elif value not in (None, ""):
                params[name] = value
        if data.get("hours_from") and data.get("hours_to"):
            params["hours"] = [
                data["hours_from"].strftime("%H:%M"),
                data["hours_to"].strftime("%H:%M"),
            ]
        return params

    def changes(self) -> dict[str, Any]:
        """The campaign's own fields for the service (not tiers and stores)."""
        names = [n for n in self.Meta.fields if n not in ("tiers", "stores", "segment")]
        segment = self.cleaned_data.get("segment")
        return {
            **{name: self.cleaned_data[name] for name in names},
            "segment_id": segment.pk if segment else None,
            "params": self.params(),
        }

    def error_field(self, name: str) -> str | None:
        """The form field a service's error key (`params.hours`) belongs to."""
        key = name.removeprefix("params.")
        if key == "hours":
            key = "hours_to"
        return key if key in self.fields else None


class CampaignFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("Any status")), *CampaignStatus.choices], required=False
    )
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("Any kind")), *CampaignKind.choices], required=False
    )


DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class BacktestForm(forms.Form):
    """The range of a back-test, both days included (purchases.backtest
    checks its length)."""

    date_from = forms.DateField(label=_("From"), widget=DATE_INPUT)
    date_to = forms.DateField(label=_("To"), widget=DATE_INPUT)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The end must be after the start."))
        for name in ("date_from", "date_to"):
            value = data.get(name)
            if value is not None and not 1970 <= value.year <= 9998:
                self.add_error(name, _("Give a year from 1970 to 9998."))
        return data
