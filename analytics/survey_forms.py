"""The forms of the survey and follow-up pages, staff and portal: validation
only (analytics.surveys and analytics.recovery check again and write)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from analytics.feedback import RETENTION_DAYS_DEFAULT, RETENTION_DAYS_MAX, RETENTION_DAYS_MIN
from analytics.models import (
    COMMENT_MAX_LENGTH,
    GOODWILL_POINTS_MAX,
    NOTE_MAX_LENGTH,
    SCORE_RANGE,
    SurveyKind,
    SurveySettings,
)
from analytics.surveys import SETTINGS_FIELDS
from campaigns.staff_forms import DATE_INPUT
from loyalty.models import Store
from purchases.models import Purchase

PERIOD_DAYS_DEFAULT = 90
# Five years of weeks is the longest trend a page draws.
PERIOD_DAYS_MAX = 5 * 366


class SurveySettingsForm(forms.ModelForm):
    class Meta:
        model = SurveySettings
        fields = list(SETTINGS_FIELDS)
        widgets = {
            "question_en": forms.Textarea(attrs={"rows": 2}),
            "question_ms": forms.Textarea(attrs={"rows": 2}),
        }


class SurveyPeriodForm(forms.Form):
    """The period, store and trend step of the survey figures (GET)."""

    date_from = forms.DateField(label=_("From"), widget=DATE_INPUT, required=False)
    date_to = forms.DateField(label=_("To"), widget=DATE_INPUT, required=False)
    store = forms.ModelChoiceField(
        label=_("Store"),
        queryset=Store.objects.order_by("name"),
        required=False,
        empty_label=_("Every store"),
    )
    step = forms.ChoiceField(
        label=_("Trend by"),
        choices=[("week", _("Week")), ("month", _("Month"))],
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            # The page opens on the default period, shown in the fields.
            end = timezone.localdate()
            self.initial = {
                "date_from": end - timedelta(days=PERIOD_DAYS_DEFAULT - 1),
                "date_to": end,
                "step": "week",
            }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        today = timezone.localdate()
        end = data.get("date_to") or today
        start = data.get("date_from") or end - timedelta(days=PERIOD_DAYS_DEFAULT - 1)
        for name, value in (("date_from", start), ("date_to", end)):
            if not 1970 <= value.year <= 9998:
                self.add_error(name, _("Give a year from 1970 to 9998."))
        if end < start:
            self.add_error("date_to", _("The end must be after the start."))
        elif (end - start).days >= PERIOD_DAYS_MAX:
            self.add_error("date_from", _("Choose a period of at most five years."))
        data["date_from"], data["date_to"] = start, end
        data["step"] = data.get("step") or "week"
        return data

    def period(self) -> tuple[date, date, Store | None, str]:
        """(start, end, store, step) of a valid form, else the defaults."""
        if self.is_valid():
            data = self.cleaned_data
            return data["date_from"], data["date_to"], data["store"], data["step"]
        end = timezone.localdate()
        return end - timedelta(days=PERIOD_DAYS_DEFAULT - 1), end, None, "week"


def score_choices(kind: str) -> list[tuple[int, str]]:
    low, high = SCORE_RANGE[kind]
    return [(score, str(score)) for score in range(low, high + 1)]


class FeedbackAnswerForm(forms.Form):
    """One answer in the portal: the score (radio buttons, 0 is a choice like
    the others), a comment and, on the feedback page, which recent purchase
    it is about."""

    score = forms.TypedChoiceField(
        label=_("Your score"), coerce=int, widget=forms.RadioSelect, empty_value=None
    )
    comment = forms.CharField(
        label=_("Tell us more (optional)"),
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    purchase = forms.ModelChoiceField(
        label=_("About"),
        queryset=Purchase.objects.none(),
        required=False,
        empty_label=_("No purchase in particular"),
    )

    def __init__(
        self, *args: Any, kind: str, purchases: QuerySet[Purchase] | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("prefix", kind)
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.fields["score"].choices = score_choices(kind)
        if purchases is None:
            del self.fields["purchase"]
        else:
            self.fields["purchase"].queryset = purchases
            self.fields["purchase"].label_from_instance = _purchase_label

    @property
    def is_nps(self) -> bool:
        return self.kind == SurveyKind.NPS


def _purchase_label(purchase: Purchase) -> str:
    when = formats.date_format(timezone.localtime(purchase.occurred_at), "SHORT_DATE_FORMAT")
    return f"{when} · {purchase.store.name} · {purchase.reference}"


class FollowUpForm(forms.Form):
    note = forms.CharField(
        label=_("What you did"),
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Who you spoke to, what you offered, what they said. Needed to close it."),
    )
    goodwill_points = forms.IntegerField(
        label=_("Goodwill points"),
        required=False,
        min_value=0,
        max_value=GOODWILL_POINTS_MAX,
        initial=0,
        help_text=_(
            "Given once, to the member's balance, as 'Service recovery' in their history "
            "(store staff: up to the program's adjustment limit)."
        ),
    )


class RecoveryFilterForm(forms.Form):
    """The queue page's store (for who sees every store) and retention window."""

    store = forms.ModelChoiceField(
        label=_("Store"),
        queryset=Store.objects.order_by("name"),
        required=False,
        empty_label=_("Every store"),
    )
    retention_days = forms.IntegerField(
        label=_("Bought again within (days)"),
        required=False,
        min_value=RETENTION_DAYS_MIN,
        max_value=RETENTION_DAYS_MAX,
        initial=RETENTION_DAYS_DEFAULT,
    )

    def values(self) -> tuple[Store | None, int]:
        if self.is_valid():
            data = self.cleaned_data
            return data["store"], data["retention_days"] or RETENTION_DAYS_DEFAULT
        return None, RETENTION_DAYS_DEFAULT
