"""Forms of the back-office rewards pages: the catalogue (marketers) and the
gift-card designs (managers). They check the shape of the input; the services
(rewards.services) check the rules and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from loyalty import limits
from members.models import Tier
from rewards.models import GiftCardDesign, Reward, RewardCategory, RewardKind
from rewards.services import StockEdit

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
COLOUR_INPUT = forms.TextInput(attrs={"type": "color"})


class RewardFilterForm(forms.Form):
    """The list's filters, read from the query string."""

    STATUS_CHOICES = [
        ("", _("In the catalogue")),
        ("active", _("Active")),
        ("inactive", _("Paused")),
        ("archived", _("Archived")),
        ("all", _("All")),
    ]

    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("Any kind")), *RewardKind.choices], required=False
    )
    category = forms.ModelChoiceField(
        label=_("Category"),
        queryset=RewardCategory.objects.all(),
        required=False,
        empty_label=_("Any category"),
    )
    status = forms.ChoiceField(label=_("Status"), choices=STATUS_CHOICES, required=False)


class RewardForm(forms.ModelForm):
    """Every field of a reward but its position (set by moving it in the list).

    Editing, the stock typed is not written as such: members redeem while the
    page is open, so the form also carries the stock it showed (`stock_seen`)
    and the service applies the difference to what is left (`stock_edit`).
    """

    tiers = forms.ModelMultipleChoiceField(
        label=_("Tiers"),
        queryset=Tier.objects.order_by("threshold"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only members of the ticked tiers may redeem it. None ticked: everyone."),
    )

    class Meta:
        model = Reward
        fields = [
            "name",
            "description",
            "kind",
            "category",
            "image",
            "points_cost",
            "value",
            "sku",
            "cause",
            "design",
            "stock",
            "per_member_limit",
            "tiers",
            "segment",
            "available_from",
            "available_until",
            "voucher_valid_days",
            "featured",
            "active",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "image": forms.ClearableFileInput(attrs={"accept": "image/*"}),
            "available_from": DATETIME_INPUT,
            "available_until": DATETIME_INPUT,
        }
        help_texts = {
            "value": _(
                "An amount for a discount, free product (its fallback price) or gift card; "
                "a percentage for a percent discount; what an experience is worth."
            ),
            "sku": _("For a free product: the product's SKU at the till."),
            "design": _("For a gift card: how the card looks."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Hidden designs are not offered, except the one the reward already has.
        self.fields["design"].queryset = GiftCardDesign.objects.filter(
            Q(active=True) | Q(pk=self.instance.design_id)
        )
        for name in ("available_from", "available_until"):
            self.fields[name].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
        if self.instance.pk is not None:
            self.fields["stock"].help_text = _(
                "Empty: unlimited. What you add or take off applies to the stock left when "
                "you save, so units redeemed meanwhile stay taken."
            )
            self.fields["stock_seen"] = forms.IntegerField(
                required=False, widget=forms.HiddenInput, initial=self.instance.stock
            )

    def stock_edit(self) -> StockEdit | None:
        """Editing: the stock shown and the stock typed, for reward_update."""
        if "stock_seen" not in self.fields:
            return None
        return StockEdit(seen=self.cleaned_data["stock_seen"], to=self.cleaned_data["stock"])

    def changes(self) -> dict[str, Any]:
        """The cleaned values as the services take them: `tiers` apart, the
        stock apart when editing (see `stock_edit`), and the picture only when
        one was uploaded (a file) or removed ("")."""
        apart = {"tiers", "stock", "stock_seen"} if "stock_seen" in self.fields else {"tiers"}
        values = {name: value for name, value in self.cleaned_data.items() if name not in apart}
        image = values.pop("image", None)
        if image is False:
            values["image"] = ""
        elif image and "image" in self.changed_data:
            values["image"] = image
        return values


class RewardCategoryForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)
    slug = forms.SlugField(
        label=_("Code"),
        max_length=40,
        help_text=_("Short, lowercase, no spaces (e.g. dining)."),
    )
    position = forms.IntegerField(
        label=_("Position"),
        min_value=0,
        max_value=limits.COUNT_MAX,
        initial=0,
        help_text=_("Categories are shown lowest first."),
    )


class GiftCardDesignForm(forms.ModelForm):
    class Meta:
        model = GiftCardDesign
        fields = ["name", "merchant_name", "image", "background_color", "text_color", "active"]
        widgets = {
            "image": forms.ClearableFileInput(attrs={"accept": "image/*"}),
            "background_color": COLOUR_INPUT,
            "text_color": COLOUR_INPUT,
        }

    def changes(self) -> dict[str, Any]:
        """As RewardForm.changes: the picture only when uploaded or removed."""
        values = dict(self.cleaned_data)
        image = values.pop("image", None)
        if image is False:
            values["image"] = ""
        elif image and "image" in self.changed_data:
            values["image"] = image
        return values
