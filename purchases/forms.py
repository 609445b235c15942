"""Validation of the counter's sale and return forms; views call services."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty import limits
from loyalty.models import Store
from loyalty.money import MONEY, money_format
from purchases.inputs import LineInput, SaleInput
from purchases.returns import ReturnItem

if TYPE_CHECKING:
    from members.models import Member
    from purchases.models import Purchase, PurchaseLine

# A sale recorded by its total alone is one line of this SKU.
MANUAL_SKU = "MANUAL"
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"
LINE_ROWS = 4


class LineForm(forms.Form):
    """One item of a sale. A row left blank is ignored."""

    sku = forms.RegexField(
        label=_("SKU"),
        regex=SKU_PATTERN,
        max_length=64,
        error_messages={"invalid": _("Use letters, digits and . _ : / - only.")},
    )
    name = forms.CharField(label=_("Item"), max_length=200, required=False)
    quantity = forms.IntegerField(
        label=_("Quantity"), min_value=1, max_value=limits.QUANTITY_MAX, initial=1
    )
    unit_price = forms.DecimalField(
        label=_("Unit price"), min_value=Decimal("0"), **MONEY, max_value=limits.MONEY_MAX
    )


LineFormSet = forms.formset_factory(LineForm, extra=LINE_ROWS, max_num=50, validate_max=True)


class SaleForm(forms.Form):
    """A sale typed in at the counter: its total, or its item lines (`self.lines`)."""

    reference = forms.CharField(
        label=_("Receipt number"),
        max_length=100,
        help_text=_("As printed on the receipt; a receipt is recorded once per store."),
    )
    store = forms.ModelChoiceField(
        label=_("Store"), queryset=Store.objects.filter(is_active=True), empty_label=None
    )
    occurred_at = forms.DateTimeField(
        label=_("Time of sale"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Leave empty for now; fill in for an earlier receipt."),
    )
    total = forms.DecimalField(
        label=_("Total"),
        min_value=Decimal("0.01"),
        required=False,
        help_text=_("The amount of the sale, when you do not type its items below."),
        **MONEY,
        max_value=limits.MONEY_MAX,
    )
    discount_total = forms.DecimalField(
        label=_("Discount"),
        min_value=Decimal("0"),
        required=False,
        **MONEY,
        max_value=limits.MONEY_MAX,
    )
    points_to_redeem = forms.IntegerField(
        label=_("Points to pay with"),
        min_value=0,
        max_value=limits.POINTS_MAX,
        required=False,
        help_text=_("Part of the sale paid with the member's points."),
    )

    def __init__(self, *args: Any, member: Member, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.member = member
        self.lines = LineFormSet(self.data if self.is_bound else None, prefix="items")

    def clean_reference(self) -> str:
        return self.cleaned_data["reference"].strip()

    def clean_points_to_redeem(self) -> int:
        points = self.cleaned_data["points_to_redeem"] or 0
        # On confirmation the service checks the balance under lock; checking it
        # here would refuse the replay of a double-clicked confirm that already paid.
        confirming = self.data.get("action") == "confirm"
        if not confirming and points > self.member.account.balance:
            raise forms.ValidationError(
                _("The member has only %(balance)s points.")
                % {"balance": self.member.account.balance}
            )
        return points

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not self.lines.is_valid():
            raise forms.ValidationError(_("Check the item lines."))
        rows = [line.cleaned_data for line in self.lines.forms if line.cleaned_data]
        total = cleaned.get("total")
        if total is not None and rows:
            raise forms.ValidationError(_("Give the total or the item lines, not both."))
        if total is None and not rows and "total" not in self.errors:
            raise forms.ValidationError(_("Give the sale's total or at least one item line."))
        if sum(row["quantity"] * row["unit_price"] for row in rows) > limits.MONEY_MAX:
            raise forms.ValidationError(
                _("A sale adds up to at most %(amount)s.")
                % {"amount": money_format(limits.MONEY_MAX)}
            )
        if total is not None:
            cleaned["items"] = [LineInput(sku=MANUAL_SKU, quantity=1, unit_price=total)]
        else:
            cleaned["items"] = [
                LineInput(
                    sku=row["sku"],
                    name=row["name"],
                    quantity=row["quantity"],
                    unit_price=row["unit_price"],
                )
                for row in rows
            ]
        return cleaned

    def sale_input(self, *, now: datetime) -> SaleInput:
        data = self.cleaned_data
        return SaleInput(
            store=data["store"],
            reference=data["reference"],
            member=self.member,
            occurred_at=data["occurred_at"] or now,
            items=data["items"],
            discount_total=data["discount_total"] or Decimal("0.00"),
            points_to_redeem=data["points_to_redeem"],
            occurred_at_given=data["occurred_at"] is not None,
        )


class ReturnForm(forms.Form):
    """A return: a quantity per line of the sale, or an amount."""

    reference = forms.CharField(label=_("Return receipt number"), max_length=100)
    amount = forms.DecimalField(
        label=_("Amount"),
        min_value=Decimal("0.01"),
        required=False,
        help_text=_("Instead of quantities: the amount given back."),
        **MONEY,
        max_value=limits.MONEY_MAX,
    )

    def __init__(self, *args: Any, purchase: Purchase, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.purchase_lines = list(purchase.lines.all())
        for line in self.purchase_lines:
            left = line.quantity - line.returned_quantity
            self.fields[self._line_field(line)] = forms.IntegerField(
                label=_("Quantity of %(sku)s to return") % {"sku": line.sku},
                min_value=0,
                max_value=left,
                required=False,
                disabled=left == 0,
            )

    @staticmethod
    def _line_field(line: PurchaseLine) -> str:
        return f"line_{line.pk}"

    def line_rows(self) -> list[tuple[PurchaseLine, forms.BoundField, int]]:
        """(line, its quantity field, quantity left to return) for the table."""
        return [
            (line, self[self._line_field(line)], line.quantity - line.returned_quantity)
            for line in self.purchase_lines
        ]

    def clean_reference(self) -> str:
        return self.cleaned_data["reference"].strip()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        quantities: dict[str, int] = {}
        for line in self.purchase_lines:
            quantity = cleaned.get(self._line_field(line)) or 0
            if quantity:
                quantities[line.sku] = quantities.get(line.sku, 0) + quantity
        amount = cleaned.get("amount")
        if quantities and amount is not None:
            raise forms.ValidationError(_("Give the quantities or an amount, not both."))
        if not quantities and amount is None and not self.errors:
            raise forms.ValidationError(_("Give the quantities returned or an amount."))
        cleaned["items"] = (
            [ReturnItem(sku=sku, quantity=quantity) for sku, quantity in quantities.items()]
            if quantities
            else None
        )
        return cleaned
