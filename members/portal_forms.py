"""Validation of the member's own profile form on the portal.

Kept apart from `forms.py` (the counter's forms) because a member edits fewer
fields than staff do: never their status, tags, home store or email (the email
is their login and changes through allauth's verified flow)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from loyalty.notifications import Kind
from members.identifiers import PhoneInvalid, normalise_phone

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
        help_text=_(
            "Any format, e.g. 012-345 6789; another country's with + and its code, e.g. "
            "+65 9123 4567. The counter can find you by it."
        ),
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
        except PhoneInvalid as exc:
            raise forms.ValidationError(exc.message) from exc


class NotificationPreferencesForm(forms.Form):
    """The member's channels per kind (a checkbox `<kind>:<channel>` each),
    their marketing consent and their language. Built from the kinds and
    channels registered (loyalty.notifications), so a channel added later
    (web push) appears with no change here."""

    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    marketing_consent = forms.BooleanField(
        label=_("Send me news and offers"),
        required=False,
        help_text=_("You can unsubscribe at any time, also from the link in every offer we send."),
    )

    def __init__(self, *args: object, rows: list[tuple[Kind, list[str]]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.rows = rows
        for kind, channels in rows:
            for channel in channels:
                self.fields[f"{kind.name}:{channel}"] = forms.BooleanField(
                    required=False, label=f"{kind.label} · {channel}"
                )

    def choices(self) -> dict[tuple[str, str], bool]:
        """{(kind, channel): enabled} of the checkboxes."""
        return {
            (kind.name, channel): bool(self.cleaned_data.get(f"{kind.name}:{channel}"))
            for kind, channels in self.rows
            for channel in channels
        }


class MemberEraseForm(forms.Form):
    """The member's own request to erase their data: they type the word the
    page shows (DELETE in English, PADAM in Malay), so no slip of a finger
    erases an account."""

    confirm = forms.CharField(label=_("Type the word to confirm"), max_length=20)

    WORDS = ("DELETE", "PADAM")

    def clean_confirm(self) -> str:
        typed = self.cleaned_data["confirm"].strip().upper()
        if typed not in self.WORDS:
            raise forms.ValidationError(_("Type DELETE to confirm."))
        return typed
