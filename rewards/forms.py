"""Forms of the counter's voucher and gift-card desk (store staff)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.money import MONEY
from members.errors import MemberNotFound
from members.models import Member
from members.selectors import member_get, member_get_by_card
from rewards.models import GiftCardDesign
from rewards.voucher_codes import normalise_code


class CodeForm(forms.Form):
    """A typed or scanned code: any case, dashes and spaces optional."""

    code = forms.CharField(
        label=_("Code"),
        max_length=40,
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "off", "autocapitalize": "characters"}
        ),
    )

    def clean_code(self) -> str:
        code = normalise_code(self.cleaned_data["code"])
        if code is None:
            raise forms.ValidationError(_("This is not a code: check what was typed or scanned."))
        return code


class VoucherUseForm(forms.Form):
    purchase_reference = forms.CharField(
        label=_("Receipt number"),
        max_length=100,
        required=False,
        help_text=_("Optional: the receipt the voucher was used on."),
    )


class GiftCardSellForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount"),
        min_value=Decimal("0.01"),
        max_value=Decimal("100000"),
        **MONEY,
    )
    member = forms.CharField(
        label=_("Member (optional)"),
        max_length=40,
        required=False,
        help_text=_("The member's number or card number, to link the card to them."),
    )
    design = forms.ModelChoiceField(
        label=_("Design"),
        queryset=GiftCardDesign.objects.none(),
        required=False,
        empty_label=_("Plain card"),
        help_text=_("How the card looks in the member's portal."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Active designs only; the first in the designs' own order is the
        # default, as it is the one listed first to managers.
        designs = GiftCardDesign.objects.filter(active=True).order_by("position", "id")
        self.fields["design"].queryset = designs
        self.fields["design"].initial = designs.first()

    def clean_member(self) -> Member | None:
        text = self.cleaned_data["member"].strip()
        if not text:
            return None
        try:
            return member_get(public_id=text)
        except MemberNotFound:
            pass
        try:
            return member_get_by_card(card_number=text)
        except MemberNotFound as exc:
            raise forms.ValidationError(_("No member has this number or card.")) from exc
