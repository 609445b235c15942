"""Sales and returns reported by tills, shops and the counter."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Purchase(models.Model):
    """One sale. Unique per (store, reference): a till's retry with the same
    receipt replays the first answer; another body under that receipt is refused."""

    # Neither key has an index of its own: the unique (store, reference) and
    # (member, occurred_at) indexes below lead with them and serve every lookup,
    # and each index less is one less write for every sale and imported row.
    store = models.ForeignKey(
        "loyalty.Store", on_delete=models.PROTECT, related_name="purchases", db_index=False
    )
    reference = models.CharField(_("receipt"), max_length=100)
    member = models.ForeignKey(
        "members.Member",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="purchases",
        db_index=False,
    )
    occurred_at = models.DateTimeField(_("time of sale"))
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now)
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    discount_total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    total = models.DecimalField(max_digits=12, decimal_places=2)
    eligible_amount = models.DecimalField(max_digits=12, decimal_places=2)
    points_earned = models.BigIntegerField(default=0)
    points_redeemed = models.BigIntegerField(default=0)
    points_status = models.CharField(max_length=10, default="available")
    tier_code = models.CharField(max_length=32, blank=True)
    fingerprint = models.CharField(max_length=64)
    response = models.TextField(blank=True)
    # What the sale added to the member's challenges (campaigns.challenges), so a return
    # takes back its share: JSON text, {"<challenge id>": {"round", "amount", ...}}; empty: none.
    # Text, like `response`, so the import's COPY writes it as it is.
    challenges = models.TextField(blank=True)
    # Indexed only where set (purchase_recorded_by_idx): a till's sales and
    # imported ones have none, and an index of their NULLs is a write each.
    recorded_by = models.ForeignKey(
        "loyalty.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        constraints = [
            models.UniqueConstraint(
                fields=["store", "reference"], name="purchase_store_reference_unique"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="purchase_total_nonnegative"),
        ]
        indexes = [
            models.Index(fields=["member", "-occurred_at"], name="purchase_member_time_idx"),
            # The roll-ups read a day's sales (analytics.rollups).
            models.Index(fields=["occurred_at"], name="purchase_time_idx"),
            # A staff user's deletion sets their sales' recorded_by to NULL.
            models.Index(
                fields=["recorded_by"],
                condition=Q(recorded_by__isnull=False),
                name="purchase_recorded_by_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.store_id}/{self.reference}"


class PurchaseLine(models.Model):
    purchase = models.ForeignKey(Purchase, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=100, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    earns = models.BooleanField(default=True)
    # The line's share of the sale's discount, so returns give back what was paid.
    discount_share = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    returned_quantity = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(returned_quantity__lte=models.F("quantity")),
                name="line_returned_within_quantity",
            )
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"

    @property
    def gross(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def net(self) -> Decimal:
        return self.gross - self.discount_share


class Return(models.Model):
    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="returns")
    reference = models.CharField(_("return receipt"), max_length=100)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    eligible_amount = models.DecimalField(max_digits=12, decimal_places=2)
    points_reversed = models.BigIntegerField(default=0)
    points_refunded = models.BigIntegerField(default=0)
    clawback = models.BigIntegerField(default=0)
    # Of the points this return settled, those that had expired: nothing was
    # taken for them (DESIGN.md §4), but they count towards the sale's zero net.
    points_expired = models.BigIntegerField(default=0)
    fingerprint = models.CharField(max_length=64)
    response = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        "loyalty.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["purchase", "reference"], name="return_reference_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="return_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.purchase_id}/{self.reference}"


class ReturnLine(models.Model):
    return_record = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(PurchaseLine, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.quantity} × {self.line_id}"


class PurchaseGiftCard(models.Model):
    """A gift card paying part of a sale: the charge it made, so a return finds
    the card (and what is left to refund on it) by key, not by reading the
    stored receipt."""

    purchase = models.ForeignKey(
        Purchase, on_delete=models.PROTECT, related_name="gift_card_charges"
    )
    gift_card = models.ForeignKey("rewards.GiftCard", on_delete=models.PROTECT, related_name="+")
    charge = models.OneToOneField(
        "rewards.GiftCardEntry", on_delete=models.PROTECT, related_name="+"
    )
    amount = models.DecimalField(_("charged"), max_digits=12, decimal_places=2)
    refunded = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["purchase", "gift_card"], name="purchase_gift_card_unique"
            ),
            models.CheckConstraint(
                condition=Q(refunded__gte=0) & Q(refunded__lte=models.F("amount")),
                name="purchase_gift_card_refund_within_charge",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purchase_id}: {self.amount} on {self.gift_card_id}"


class BacktestStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class CampaignBacktest(models.Model):
    """One back-test of a campaign over recorded purchases (purchases.backtest):
    the status row a long run updates as it goes, so its page can show a
    progress bar, and then its result. Written by the back-test only, never
    by the sale flow."""

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="backtests"
    )
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("to"))
    status = models.CharField(
        max_length=10, choices=BacktestStatus.choices, default=BacktestStatus.QUEUED
    )
    purchases_total = models.PositiveIntegerField(default=0)
    purchases_done = models.PositiveIntegerField(default=0)
    # The API's answer once done (purchases.backtest.simulation_json).
    result = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        "loyalty.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("back-test")
        verbose_name_plural = _("back-tests")

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.starts_at:%Y-%m-%d}–{self.ends_at:%Y-%m-%d}"

    @property
    def percent(self) -> int:
        if self.status == BacktestStatus.DONE:
            return 100
        if not self.purchases_total:
            return 0
        return min(99, self.purchases_done * 100 // self.purchases_total)
