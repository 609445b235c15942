"""Validation of the member's own profile form on the portal.

Kept apart from `forms.py` (the counter's forms) because a member edits fewer
fields than staff do: never their status, tags, home store or email (the email
is their login and changes through allauth's verified flow)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from members.identifiers import normalise_phone

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PortalProfileForm(forms.Form):
    first_name = forms.CharField(
        label=_("First name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label=_("Last name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        help_text=_("Any format, e.g. 012-345 6789. The counter can find you by it."),
    )
    birth_date = forms.DateField(
        label=_("Birthday"),
        required=False,
        widget=DATE_INPUT,
        help_text=_("We may send you a birthday treat."),
    )
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    marketing_consent = forms.BooleanField(
        label=_("Send me offers by email and SMS"), required=False
    )

    def clean_phone(self) -> str | None:
        try:
            return normalise_phone(self.cleaned_data["phone"])
        except ValueError as exc:
            raise forms.ValidationError(_("Enter a valid phone number.")) from exc
