"""Rewards catalogue, redemptions, vouchers and gift cards (DESIGN.md §6)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.validators import FileExtensionValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty import limits
from rewards.validators import validate_image_file

IMAGE_EXTENSIONS = ["jpg", "jpeg", "png", "gif", "webp"]
COLOUR = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Give a colour as #RRGGBB."))


def _image_validators() -> list:
    return [FileExtensionValidator(IMAGE_EXTENSIONS), validate_image_file]


class RewardKind(models.TextChoices):
    DISCOUNT_FIXED = "discount_fixed", _("Discount (amount)")
    DISCOUNT_PERCENT = "discount_percent", _("Discount (percent)")
    FREE_PRODUCT = "free_product", _("Free product")
    GIFT_CARD = "gift_card", _("Gift card")
    EXPERIENCE = "experience", _("Experience")
    DONATION = "donation", _("Donation")


# Kinds whose redemption issues vouchers (a gift-card reward issues gift cards,
# a donation issues nothing).
VOUCHER_KINDS = (
    RewardKind.DISCOUNT_FIXED,
    RewardKind.DISCOUNT_PERCENT,
    RewardKind.FREE_PRODUCT,
    RewardKind.EXPERIENCE,
)


class RewardCategory(models.Model):
    name = models.CharField(_("name"), max_length=80)
    slug = models.SlugField(_("code"), max_length=40, unique=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("reward category")
        verbose_name_plural = _("reward categories")

    def __str__(self) -> str:
        return str(self.name)


class Reward(models.Model):
    """Something a member can get for points.

    `value` means money for discount_fixed, free_product (the fallback price
    when the sale has no line of `sku`) and gift_card (the card's amount), a
    percentage for discount_percent, and what the experience is worth (for
    reports) for experience. `stock` is what is left (None: unlimited); it is
    only ever changed with F() expressions or under the row lock.
    """

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=RewardKind.choices)
    category = models.ForeignKey(
        RewardCategory,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rewards",
    )
    image = models.FileField(
        _("image"), upload_to="rewards/", blank=True, validators=_image_validators()
    )
    points_cost = models.PositiveBigIntegerField(
        _("points cost"), validators=limits.points_validators(1)
    )
    value = models.DecimalField(
        _("value"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=limits.money_validators(),
    )
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    cause = models.CharField(
        _("cause"),
        max_length=120,
        blank=True,
        help_text=_("For donations: the named cause the points go to."),
    )
    design = models.ForeignKey(
        "rewards.GiftCardDesign",
        verbose_name=_("gift card design"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    stock = models.PositiveIntegerField(
        _("stock left"),
        null=True,
        blank=True,
        validators=limits.count_validators(),
        help_text=_("Empty: unlimited."),
    )
    per_member_limit = models.PositiveIntegerField(
        _("limit per member"),
        null=True,
        blank=True,
        validators=limits.count_validators(1),
        help_text=_("Empty: no limit."),
    )
    tiers = models.ManyToManyField(
        "members.Tier",
        verbose_name=_("tiers"),
        blank=True,
        related_name="+",
        help_text=_("Only members of these tiers may redeem it. None: everyone."),
    )
    # PROTECT: a segment a reward targets cannot be deleted from under it.
    segment = models.ForeignKey(
        "members.Segment",
        verbose_name=_("segment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rewards",
        help_text=_("Only members in this segment may redeem it. Empty: everyone."),
    )
    available_from = models.DateTimeField(_("available from"), null=True, blank=True)
    available_until = models.DateTimeField(_("available until"), null=True, blank=True)
    voucher_valid_days = models.PositiveIntegerField(
        _("voucher valid for (days)"),
        null=True,
        blank=True,
        default=30,
        validators=limits.days_validators(),
        help_text=_("Empty: vouchers never expire."),
    )
    featured = models.BooleanField(_("featured"), default=False)
    active = models.BooleanField(_("active"), default=True)
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True)
    position = models.PositiveIntegerField(
        _("position"), default=0, validators=limits.count_validators()
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        constraints = [
            models.CheckConstraint(condition=Q(points_cost__gte=1), name="reward_cost_positive"),
            models.CheckConstraint(
                condition=Q(stock__isnull=True) | Q(stock__gte=0), name="reward_stock_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(available_from__isnull=True)
                | Q(available_until__isnull=True)
                | Q(available_until__gt=F("available_from")),
                name="reward_window_ordered",
            ),
        ]
        indexes = [models.Index(fields=["active", "position"], name="reward_active_pos_idx")]

    def __str__(self) -> str:
        return str(self.name)

    @property
    def issues_vouchers(self) -> bool:
        return self.kind in VOUCHER_KINDS

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class RedemptionStatus(models.TextChoices):
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class Redemption(models.Model):
    """A member spent points on `quantity` of a reward. The points are one
    ledger entry with source ("redemption", id); a cancellation gives them back
    with a refund entry of the same source."""

    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="redemptions"
    )
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    quantity = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    points = models.PositiveBigIntegerField()
    # A donation's cause, copied when redeemed: the tally per cause stays true
    # when the reward is renamed or its cause changes later.
    cause = models.CharField(max_length=120, blank=True)
    status = models.CharField(
        max_length=10, choices=RedemptionStatus.choices, default=RedemptionStatus.COMPLETED
    )
    store = models.ForeignKey(
        "loyalty.Store", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        indexes = [
            models.Index(fields=["member", "reward", "status"], name="redemption_limit_idx"),
            models.Index(fields=["reward", "status"], name="redemption_reward_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="redemption_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.reward_id} ({self.member_id})"


class VoucherStatus(models.TextChoices):
    ISSUED = "issued", _("Issued")
    USED = "used", _("Used")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")


class Voucher(models.Model):
    """A code a member shows to get a reward. Used at most once: the change
    from `issued` to `used` is one conditional UPDATE (`WHERE status =
    'issued'`), so of two tills using it at once exactly one changes a row.
    The use is recorded on the voucher: when, where, on which receipt and what
    it took off the sale."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="vouchers")
    redemption = models.ForeignKey(
        Redemption, null=True, blank=True, on_delete=models.PROTECT, related_name="vouchers"
    )
    member = models.ForeignKey(
        "members.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="vouchers"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=RewardKind.choices)
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2, null=True, blank=True)
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=VoucherStatus.choices, default=VoucherStatus.ISSUED
    )
    issued_at = models.DateTimeField(_("issued"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    used_store = models.ForeignKey(
        "loyalty.Store",
        verbose_name=_("used at"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    used_reference = models.CharField(_("receipt"), max_length=100, blank=True)
    # The purchase's id, as a plain number: rewards sit below purchases.
    used_purchase_id = models.BigIntegerField(null=True, blank=True)
    used_amount = models.DecimalField(
        _("discount given"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = _("voucher")
        verbose_name_plural = _("vouchers")
        indexes = [
            models.Index(fields=["member", "status"], name="voucher_member_status_idx"),
            models.Index(
                fields=["expires_at"], condition=Q(status="issued"), name="voucher_expiry_idx"
            ),
            models.Index(fields=["used_purchase_id"], name="voucher_purchase_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="used") | Q(used_at__isnull=False),
                name="voucher_used_has_time",
            )
        ]

    def __str__(self) -> str:
        return self.code

    def is_usable(self, now: datetime) -> bool:
        return self.status == VoucherStatus.ISSUED and (
            self.expires_at is None or self.expires_at > now
        )


class GiftCardDesign(models.Model):
    """How a gift card looks on the portal: a picture, colours, the merchant's name."""

    name = models.CharField(_("name"), max_length=80)
    merchant_name = models.CharField(_("merchant name"), max_length=120, blank=True)
    image = models.FileField(
        _("image"), upload_to="gift-cards/", blank=True, validators=_image_validators()
    )
    background_color = models.CharField(
        _("background colour"), max_length=7, default="#0b5d56", validators=[COLOUR]
    )
    text_color = models.CharField(
        _("text colour"), max_length=7, default="#ffffff", validators=[COLOUR]
    )
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("gift card design")
        verbose_name_plural = _("gift card designs")

    def __str__(self) -> str:
        return str(self.name)


class GiftCardStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    VOID = "void", _("Void")


class GiftCard(models.Model):
    """Stored value. `balance` is Σ of the card's entries, changed only under the
    row lock (`locks.gift_card_lock`); a CHECK keeps it from going below zero."""

    code = models.CharField(_("code"), max_length=24, unique=True)
    initial_amount = models.DecimalField(_("initial amount"), max_digits=12, decimal_places=2)
    balance = models.DecimalField(_("balance"), max_digits=12, decimal_places=2)
    status = models.CharField(
        _("status"), max_length=10, choices=GiftCardStatus.choices, default=GiftCardStatus.ACTIVE
    )
    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="gift_cards",
    )
    design = models.ForeignKey(
        GiftCardDesign,
        verbose_name=_("design"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="gift_cards",
    )
    redemption = models.ForeignKey(
        Redemption, null=True, blank=True, on_delete=models.PROTECT, related_name="gift_cards"
    )
    issued_store = models.ForeignKey(
        "loyalty.Store", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField(_("issued"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = _("gift card")
        verbose_name_plural = _("gift cards")
        constraints = [
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="gift_card_balance_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(initial_amount__gt=0), name="gift_card_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def is_usable(self, now: datetime) -> bool:
        return self.status == GiftCardStatus.ACTIVE and (
            self.expires_at is None or self.expires_at > now
        )


class GiftCardEntryKind(models.TextChoices):
    ISSUE = "issue", _("Issued")
    CHARGE = "charge", _("Charge")
    REFUND = "refund", _("Refund")
    VOID = "void", _("Void")


class GiftCardEntry(models.Model):
    """One line of a gift card's ledger. Append-only: never updated or deleted.
    `amount` is signed (charges and voids negative)."""

    gift_card = models.ForeignKey(GiftCard, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=10, choices=GiftCardEntryKind.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    balance_after = models.DecimalField(max_digits=12, decimal_places=2)
    # What the till asked to charge (a partial charge takes less): a retry with
    # the same reference must ask for the same amount to be a replay.
    requested_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    reference = models.CharField(max_length=100, blank=True)
    source_type = models.CharField(max_length=32, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    store = models.ForeignKey(
        "loyalty.Store", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("gift card entry")
        verbose_name_plural = _("gift card entries")
        indexes = [
            models.Index(fields=["gift_card", "-created_at"], name="gift_entry_card_idx"),
            models.Index(fields=["source_type", "source_id"], name="gift_entry_source_idx"),
        ]
        constraints = [
            # A till retrying a charge with its receipt number charges once; the
            # same receipt number at another store is another charge.
            models.UniqueConstraint(
                fields=["gift_card", "store", "reference"],
                condition=Q(kind="charge") & ~Q(reference=""),
                name="gift_charge_reference_unique",
            ),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="gift_entry_balance_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.gift_card_id})"
