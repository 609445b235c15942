"""Validation of member forms."""

from __future__ import annotations

from datetime import date
from typing import Any

from allauth.account.forms import SignupForm
from django import forms
from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.limits import EMAIL_MAX_LENGTH
from loyalty.models import Store, TierBasis
from members.identifiers import EXTERNAL_ID_MAX_LENGTH, PhoneInvalid, normalise_phone
from members.models import MemberStatus, Tier


class MemberSignupForm(SignupForm):
    """The portal's sign-up: the member's name besides email and password."""

    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)

    field_order = ["first_name", "last_name", "email", "password1", "password2"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # allauth allows 320 characters, the email column 254.
        email = self.fields["email"]
        email.max_length = EMAIL_MAX_LENGTH
        email.validators.append(MaxLengthValidator(EMAIL_MAX_LENGTH))
        email.widget.attrs["maxlength"] = str(EMAIL_MAX_LENGTH)


# --- Back-office counter and tiers ------------------------------------------------------------

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class MemberSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Card number, phone, email, external id or name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


class MemberEnrolForm(forms.Form):
    """A member enrolled at the counter; the service normalises and checks the contacts."""

    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False, max_length=EMAIL_MAX_LENGTH)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=32,
        required=False,
        help_text=_(
            "Any format, e.g. 012-345 6789; another country's with + and its code, e.g. "
            "+65 9123 4567. Email or phone is needed."
        ),
    )
    external_id = forms.CharField(
        label=_("External id"),
        max_length=EXTERNAL_ID_MAX_LENGTH,
        required=False,
        help_text=_("The member's number in your own customer system, if any."),
    )
    birth_date = forms.DateField(label=_("Birthday"), required=False, widget=DATE_INPUT)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    marketing_consent = forms.BooleanField(
        label=_("Agrees to receive offers by email and SMS"), required=False
    )
    home_store = forms.ModelChoiceField(
        label=_("Home store"), queryset=Store.objects.filter(is_active=True), required=False
    )
    referral_code = forms.CharField(
        label=_("Friend's referral code"),
        max_length=32,
        required=False,
        help_text=_("If a member invited them: the code on the friend's card or share link."),
    )

    def clean_phone(self) -> str | None:
        phone = self.cleaned_data["phone"]
        try:
            return normalise_phone(phone)
        except PhoneInvalid as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not self.errors and not cleaned.get("email") and not cleaned.get("phone"):
            raise forms.ValidationError(_("Give an email or a phone number."))
        return cleaned


class MemberEditForm(MemberEnrolForm):
    """Status, contacts, tags, consent and home store of a member."""

    referral_code = None  # a referral is recorded at enrolment only

    status = forms.ChoiceField(
        label=_("Status"),
        choices=[(MemberStatus.ACTIVE, MemberStatus.ACTIVE.label)],
        help_text=_("A blocked member can neither earn nor spend points."),
    )
    tags = forms.CharField(
        label=_("Tags"),
        max_length=500,
        required=False,
        help_text=_("Separate tags with commas, e.g. vip, staff-family."),
    )

    field_order = [
        "status",
        "first_name",
        "last_name",
        "email",
        "phone",
        "external_id",
        "birth_date",
    ]

    def __init__(
        self, *args: Any, current_status: str = MemberStatus.ACTIVE, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        # Deleting a member is a privacy request, not a counter action: only a
        # member already deleted keeps that choice, so their form stays valid.
        statuses = [MemberStatus.ACTIVE, MemberStatus.BLOCKED]
        if current_status == MemberStatus.DELETED:
            statuses.append(MemberStatus.DELETED)
        self.fields["status"].choices = [(status.value, status.label) for status in statuses]

    def clean_tags(self) -> list[str]:
        tags = (tag.strip() for tag in self.cleaned_data["tags"].split(","))
        return sorted({tag for tag in tags if tag})


class PointsAdjustForm(forms.Form):
    points = forms.IntegerField(label=_("Points"), min_value=-1_000_000, max_value=1_000_000)
    reason = forms.CharField(
        label=_("Reason"),
        max_length=255,
        help_text=_("The member can read it in their history."),
    )

    def __init__(self, *args: Any, limit: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if limit is None:
            self.fields["points"].help_text = _(
                "Positive adds points, negative takes them away. Managers have no limit."
            )
        else:
            self.fields["points"].help_text = _(
                "Positive adds points, negative takes them away; store staff may move at most "
                "%(limit)s points at once."
            ) % {"limit": limit}

    def clean_points(self) -> int:
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("A correction cannot be zero."))
        return points


class MemberTierForm(forms.Form):
    tier = forms.ModelChoiceField(label=_("Tier"), queryset=Tier.objects.order_by("threshold"))
    until = forms.DateField(
        label=_("Keep until"),
        widget=DATE_INPUT,
        help_text=_("After this date the nightly review applies the tier rules again."),
    )

    def clean_until(self) -> date:
        until = self.cleaned_data["until"]
        if until < timezone.localdate():
            raise forms.ValidationError(_("Choose today or a later date."))
        return until


class TierForm(forms.ModelForm):
    class Meta:
        model = Tier
        fields = ["code", "name", "threshold", "multiplier", "retention_days", "benefits", "color"]
        widgets = {
            "color": forms.TextInput(attrs={"type": "color"}),
            "benefits": forms.Textarea(attrs={"rows": 4}),
        }
        help_texts = {
            "code": _(
                "Short, lowercase, no spaces (e.g. gold). The API uses it; it cannot change."
            ),
            "multiplier": _("Points of a purchase are multiplied by this, e.g. 1.50."),
            "benefits": _("What members of this tier get, shown on the portal."),
        }

    def __init__(self, *args: Any, basis: str = TierBasis.SPEND, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if basis == TierBasis.POINTS:
            help_text = _("Points earned over the tier window to reach this tier; 0 is the entry.")
        else:
            help_text = _(
                "Amount spent (%(currency)s) over the tier window to reach this tier; 0 is the "
                "entry."
            ) % {"currency": settings.LOYALTY_CURRENCY}
        self.fields["threshold"].help_text = help_text


class TierUpdateForm(TierForm):
    class Meta(TierForm.Meta):
        fields = ["name", "threshold", "multiplier", "retention_days", "benefits", "color"]


class MemberEraseStaffForm(forms.Form):
    """A manager erases a member's data on the member's request: they type the
    member's card number to show they mean this member, and note the request."""

    card_number = forms.CharField(label=_("The member's card number"), max_length=32)
    note = forms.CharField(
        label=_("The request (how and when the member asked)"),
        max_length=255,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, card_number: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.expected = card_number

    def clean_card_number(self) -> str:
        typed = "".join(self.cleaned_data["card_number"].split())
        if typed != self.expected:
            raise forms.ValidationError(_("That is not this member's card number."))
        return typed
