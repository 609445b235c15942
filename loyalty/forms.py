"""Validation of the platform's back-office forms; views call services.

`form_errors_from` shows a service's refusal on a form, for every app's pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.errors import DomainError
from loyalty.limits import EMAIL_MAX_LENGTH
from loyalty.models import ApiScope, ImportKind, ProgramSettings, Store, WebhookEventType
from loyalty.roles import Role


class StoreCreateForm(forms.ModelForm):
    class Meta:
        model = Store
        fields = ["code", "name", "address", "phone", "is_active"]
        help_texts = {
            "code": _(
                "Short, lowercase, no spaces (e.g. klcc). Tills use it; it cannot change later."
            ),
        }


class StoreUpdateForm(forms.ModelForm):
    class Meta:
        model = Store
        fields = ["name", "address", "phone", "is_active"]


class ProgramSettingsForm(forms.ModelForm):
    class Meta:
        model = ProgramSettings
        fields = [
            "name",
            "merchant_name",
            "earn_points",
            "earn_per_amount",
            "point_value",
            "pending_days",
            "expiry_days",
            "tier_basis",
            "tier_window_days",
            "staff_adjust_limit",
            "brand_color",
            "accent_color",
            "expiry_warning_days",
            "main_store",
        ]
        help_texts = {
            "earn_points": _("Points earned for each 'per amount spent' of eligible spend."),
            "point_value": _("What one point is worth when a member pays with points."),
            "pending_days": _(
                "Days purchase points wait before they can be spent (the return window)."
            ),
            "expiry_days": _("Days after which earned points expire; leave empty for never."),
            "tier_window_days": _(
                "Days of history that count towards a tier; leave empty for lifetime."
            ),
            "staff_adjust_limit": _(
                "The largest correction store staff may make; managers have no limit."
            ),
        }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["main_store"].queryset = Store.objects.filter(is_active=True)


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("Which till or system uses it, e.g. 'KLCC till 2'."),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiScope.POS],
        help_text=_(
            "Point of sale: members, purchases, vouchers, gift cards. "
            "Administration: also settings, tiers, stores, rewards and campaigns."
        ),
    )
    store = forms.ModelChoiceField(
        label=_("Store"),
        queryset=Store.objects.filter(is_active=True),
        required=False,
        help_text=_(
            "A point-of-sale key tied to a store acts for that store only: its sales are "
            "recorded there and it reads and returns only that store's purchases. Without a "
            "store, or with administration, a key acts for every store."
        ),
    )


class StaffUserCreateForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), max_length=EMAIL_MAX_LENGTH)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, widget=forms.RadioSelect)
    store = forms.ModelChoiceField(
        label=_("Store"),
        queryset=Store.objects.filter(is_active=True).order_by("name"),
        required=False,
        empty_label=_("Every store"),
        help_text=_(
            "For store staff: the store they work at. Their follow-up queue then shows that "
            "store's only."
        ),
    )


class StaffUserUpdateForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, widget=forms.RadioSelect)
    store = forms.ModelChoiceField(
        label=_("Store"),
        queryset=Store.objects.filter(is_active=True).order_by("name"),
        required=False,
        empty_label=_("Every store"),
        help_text=_(
            "For store staff: the store they work at. Their follow-up queue then shows that "
            "store's only."
        ),
    )
    is_active = forms.BooleanField(
        label=_("Can sign in"),
        required=False,
        help_text=_("Untick to close the account; its history stays in the audit log."),
    )


def form_errors_from(form: Any, error: DomainError) -> None:
    """Show a service's refusal on the form it came from."""
    for field, field_messages in (error.fields or {}).items():
        for message in field_messages:
            form.add_error(field if field in form.fields else None, message)
    if not error.fields:
        form.add_error(None, error.message)


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label=_("URL"),
        max_length=500,
        help_text=_(
            "Where your system receives the events: https:// on a public address (addresses "
            "inside the server's own network are refused)."
        ),
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=120,
        required=False,
        help_text=_("Which system this is, e.g. 'CRM' or 'Data warehouse'."),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=WebhookEventType.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    active = forms.BooleanField(
        label=_("Active"),
        required=False,
        initial=True,
        help_text=_(
            "Untick to pause: no new events are kept for it meanwhile, and deliveries already "
            "waiting are sent when you tick it again."
        ),
    )


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"), choices=ImportKind.choices)
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("UTF-8, a header row first; see the columns below."),
    )
    no_points = forms.BooleanField(
        label=_("Without points"),
        required=False,
        help_text=_(
            "Past purchases only: record the purchases and their lines, earn no points (fastest)."
        ),
    )
