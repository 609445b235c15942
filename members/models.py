"""Members, tiers and the points ledger (DESIGN.md sections 4 and 5)."""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty import limits
from members.history import entry_text
from members.identifiers import EXTERNAL_ID_MAX_LENGTH

# Crockford's base32: no I, L, O or U, so an id read aloud is not misheard.
PUBLIC_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_public_id() -> str:
    """An opaque member id for the API: 'M' and 16 random base32 characters (80 bits)."""
    return "M" + "".join(secrets.choice(PUBLIC_ID_ALPHABET) for _ in range(16))


class MemberStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    BLOCKED = "blocked", _("Blocked")
    DELETED = "deleted", _("Deleted")


class Tier(models.Model):
    """A level of the program. The member holds the highest tier whose
    threshold they meet; the threshold-0 tier is the entry tier."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=80)
    threshold = models.DecimalField(
        _("threshold"),
        max_digits=12,
        decimal_places=2,
        validators=limits.money_validators(),
        help_text=_("Points earned or amount spent (see program settings) to reach this tier."),
    )
    multiplier = models.DecimalField(
        _("earn multiplier"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[
            MinValueValidator(Decimal("1.00")),
            MaxValueValidator(limits.TIER_MULTIPLIER_MAX),
        ],
    )
    retention_days = models.PositiveIntegerField(
        _("retention days"),
        default=365,
        validators=limits.days_validators(0),
        help_text=_("A member keeps the tier at least this long after reaching it."),
    )
    benefits = models.TextField(_("benefits"), blank=True)
    color = models.CharField(_("colour"), max_length=7, default="#0b5d56")

    class Meta:
        ordering = ["threshold"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        constraints = [
            models.UniqueConstraint(fields=["threshold"], name="tier_threshold_unique"),
            models.CheckConstraint(
                condition=Q(threshold__gte=0), name="tier_threshold_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(multiplier__gte=1), name="tier_multiplier_at_least_one"
            ),
        ]

    def __str__(self) -> str:
        return str(self.name)


class Member(models.Model):
    public_id = models.CharField(
        _("member id"), max_length=20, unique=True, default=new_public_id, editable=False
    )
    card_number = models.CharField(_("card number"), max_length=16, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="member",
    )
    # NULL, not "", when absent: unique only among members who gave one.
    email = models.EmailField(_("email"), null=True, blank=True)  # noqa: DJ001
    phone = models.CharField(_("phone"), max_length=20, null=True, blank=True)  # noqa: DJ001
    # The merchant's own customer id (API.md): NULL when not given, unique among the rest.
    external_id = models.CharField(  # noqa: DJ001
        _("external id"), max_length=EXTERNAL_ID_MAX_LENGTH, null=True, blank=True
    )
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    birth_date = models.DateField(_("birthday"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=MemberStatus.choices, default=MemberStatus.ACTIVE
    )
    language = models.CharField(
        _("language"), max_length=5, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    marketing_consent = models.BooleanField(_("marketing consent"), default=False)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    home_store = models.ForeignKey(
        "loyalty.Store",
        verbose_name=_("home store"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    referral_code = models.CharField(_("referral code"), max_length=12, unique=True)
    # True while this member joined with a friend's code and that referral may
    # still qualify: the sale flow reads it from the row it has (no statement)
    # and only then asks campaigns.referrals (written by campaigns through
    # members.services.member_referral_pending_set).
    referral_pending = models.BooleanField(_("referral pending"), default=False)
    # True when the member asked to be told of the points each sale earns (off
    # by default): the sale reads it from the row it has, so a sale of a member
    # who did not ask costs no statement and queues nothing. Kept in step with
    # their preferences by members.notifications.member_notification_preferences_set.
    notify_points_earned = models.BooleanField(_("told of points earned"), default=False)
    joined_at = models.DateTimeField(_("joined"), default=timezone.now)
    tier = models.ForeignKey(
        Tier, verbose_name=_("tier"), null=True, blank=True, on_delete=models.PROTECT
    )
    tier_since = models.DateTimeField(_("tier since"), null=True, blank=True)
    tier_override_until = models.DateField(_("tier kept by hand until"), null=True, blank=True)

    class Meta:
        ordering = ["-joined_at"]
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [
            models.UniqueConstraint(
                fields=["email"], condition=Q(email__isnull=False), name="member_email_unique"
            ),
            models.UniqueConstraint(
                fields=["phone"], condition=Q(phone__isnull=False), name="member_phone_unique"
            ),
            models.UniqueConstraint(
                fields=["external_id"],
                condition=Q(external_id__isnull=False),
                name="member_external_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["last_name", "first_name"], name="member_name_idx"),
            # The members who joined on a day (analytics' cohort roll-ups).
            models.Index(fields=["joined_at"], name="member_joined_idx"),
            # Members by home store and tier (analytics' tier distribution),
            # counted from the index alone: a tenth of the table's pages.
            models.Index(
                fields=["home_store", "tier"],
                condition=~Q(status="deleted"),
                name="member_store_tier_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.phone or self.card_number

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class PointsAccount(models.Model):
    """The running totals of a member's ledger, updated in the same transaction
    as the entries (DESIGN.md §4). `balance` is spendable points."""

    member = models.OneToOneField(
        Member, primary_key=True, on_delete=models.CASCADE, related_name="account"
    )
    # 64-bit: sums of many sales (loyalty/limits.py).
    balance = models.BigIntegerField(default=0)
    pending = models.BigIntegerField(default=0)
    lifetime_earned = models.BigIntegerField(default=0)
    redeemed = models.BigIntegerField(default=0)
    expired = models.BigIntegerField(default=0)
    clawback_owed = models.BigIntegerField(default=0)
    lifetime_spend = models.DecimalField(
        max_digits=limits.LIFETIME_SPEND_DIGITS, decimal_places=2, default=Decimal("0")
    )
    # When the member's latest entry is dated: a new entry is never dated
    # before it (members/ledger.py), read with the lock instead of a MAX().
    last_entry_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="account_balance_nonnegative"),
            models.CheckConstraint(condition=Q(pending__gte=0), name="account_pending_nonnegative"),
            models.CheckConstraint(
                condition=Q(clawback_owed__gte=0), name="account_clawback_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.balance}"


class EntryKind(models.TextChoices):
    EARN = "earn", _("Earned")
    BONUS = "bonus", _("Bonus")
    REDEEM = "redeem", _("Redeemed")
    REFUND = "refund", _("Refunded")
    ADJUST = "adjust", _("Adjustment")
    EXPIRE = "expire", _("Expired")
    REVERSE = "reverse", _("Reversed")
    CLAWBACK = "clawback", _("Clawback")
    RELEASE = "release", _("Released")


class EntryStatus(models.TextChoices):
    AVAILABLE = "available", _("Available")
    PENDING = "pending", _("Pending")


class PointsEntry(models.Model):
    """One line of the ledger. Append-only: only `remaining` changes after
    insert (bookkeeping of lots).

    A positive entry is a *lot*: `remaining` is what is left of it — still
    pending for a pending earn, still spendable for an available one — and
    `expires_at` when the spendable rest lapses. Debits consume lots oldest
    expiry first.
    """

    # No index of its own: entry_member_time_idx leads with it (each index less
    # is one write less for every entry, and for every lot a debit empties).
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    kind = models.CharField(max_length=10, choices=EntryKind.choices)
    status = models.CharField(max_length=10, choices=EntryStatus.choices)
    points = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    remaining = models.BigIntegerField(default=0)
    available_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    description = models.CharField(max_length=255, blank=True)
    # The line's source, rendered in each reader's language (members/history.py);
    # `description` is its text in the member's language when written.
    message = models.JSONField(null=True, blank=True)
    source_type = models.CharField(max_length=32, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=128, null=True, blank=True, unique=True)
    lot = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Indexed only where set (entry_created_by_idx): most entries are a till's
    # or a job's, and an index of their NULLs would be a write each for nothing.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        indexes = [
            models.Index(fields=["member", "-created_at", "-id"], name="entry_member_time_idx"),
            models.Index(
                fields=["member", "expires_at", "id"],
                condition=Q(remaining__gt=0, status="available"),
                name="entry_open_lot_idx",
            ),
            models.Index(
                fields=["available_at"],
                condition=Q(remaining__gt=0, status="pending"),
                name="entry_pending_idx",
            ),
            models.Index(fields=["source_type", "source_id"], name="entry_source_idx"),
            # A staff user's deletion sets their entries' created_by to NULL.
            models.Index(
                fields=["created_by"],
                condition=Q(created_by__isnull=False),
                name="entry_created_by_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining__gte=0), name="entry_remaining_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d} ({self.member_id})"

    @property
    def text(self) -> str:
        """The line in the active language (members/history.py)."""
        return entry_text(self)


class MemberActivity(models.Model):
    """What counts towards tiers and segments: a member's spend and points per
    purchase or return (negative for returns), reported by the purchases flow.
    Tier qualification reads only this table, so members need not know purchases."""

    # No index of its own: activity_member_time_idx leads with it.
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="activity", db_index=False
    )
    occurred_at = models.DateTimeField()
    spend = models.DecimalField(max_digits=12, decimal_places=2)
    points = models.BigIntegerField()
    source_type = models.CharField(max_length=32)
    source_id = models.CharField(max_length=64)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["member", "occurred_at"], name="activity_member_time_idx")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.spend} {self.points}"


class TierChange(models.Model):
    """The history of a member's tiers."""

    class Reason(models.TextChoices):
        JOIN = "join", _("Joined")
        UPGRADE = "upgrade", _("Upgrade")
        DOWNGRADE = "downgrade", _("Downgrade")
        MANUAL = "manual", _("Set by a manager")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=10, choices=Reason.choices)
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.from_tier_id} → {self.to_tier_id}"


class Segment(models.Model):
    """A saved rule set over members (members/segments.py says what `rules`
    may hold; they are validated there when written, so a stored segment
    always evaluates)."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.CharField(_("description"), max_length=255, blank=True)
    rules = models.JSONField(_("rules"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")

    def __str__(self) -> str:
        return str(self.name)


class RfmClass(models.TextChoices):
    """The named groups of the RFM map (docs/segments.md)."""

    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL_LOYALISTS = "potential_loyalists", _("Potential loyalists")
    NEW = "new", _("New customers")
    PROMISING = "promising", _("Promising")
    NEED_ATTENTION = "need_attention", _("Need attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("About to sleep")
    AT_RISK = "at_risk", _("At risk")
    CANNOT_LOSE = "cannot_lose", _("Can't lose them")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")


class MemberRfm(models.Model):
    """A member's recency, frequency and monetary scores (1–5, quintiles over
    every member who bought) and the class they make, written by the nightly
    `rfm` job (members/rfm.py). Members who never bought have no row."""

    member = models.OneToOneField(
        Member, primary_key=True, on_delete=models.CASCADE, related_name="rfm"
    )
    recency = models.PositiveSmallIntegerField()
    frequency = models.PositiveSmallIntegerField()
    monetary = models.PositiveSmallIntegerField()
    rfm_class = models.CharField(max_length=20, choices=RfmClass.choices)
    last_purchase_at = models.DateTimeField()
    purchase_count = models.PositiveIntegerField()
    spend = models.DecimalField(max_digits=limits.LIFETIME_SPEND_DIGITS, decimal_places=2)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("RFM score")
        verbose_name_plural = _("RFM scores")
        indexes = [models.Index(fields=["rfm_class"], name="rfm_class_idx")]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.rfm_class} ({self.recency}{self.frequency}{self.monetary})"


class PushSubscription(models.Model):
    """One browser (one device) of a member that accepts web push: the endpoint
    its push service gave it and the keys our messages are encrypted with
    (RFC 8291). Written by members/push.py only; the push service's 404 or 410
    deletes the row, any other failure counts in `failure_count`."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="push_subscriptions")
    # A push service URL is short (about 200 characters for the big ones); the
    # limit is checked before anything is stored (loyalty/webpush.py).
    endpoint = models.CharField(_("endpoint"), max_length=1024, unique=True)
    p256dh = models.CharField(_("public key"), max_length=88)
    auth = models.CharField(_("authentication secret"), max_length=24)
    user_agent = models.CharField(_("browser"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_success_at = models.DateTimeField(_("last delivered"), null=True, blank=True)
    failure_count = models.PositiveIntegerField(_("failures in a row"), default=0)

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")

    def __str__(self) -> str:
        return f"{self.member_id}: {self.endpoint[:60]}"


class ConsentSource(models.TextChoices):
    """Where a change of marketing consent came from."""

    PORTAL = "portal", _("Portal")
    COUNTER = "counter", _("Counter")
    API = "api", _("API")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribe link")
    IMPORT = "import", _("Import")


class ConsentChange(models.Model):
    """One change of a member's marketing consent: what it became, when, from
    where and by whom (append-only; the member row holds the current value)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="consent_changes")
    consent = models.BooleanField(_("marketing consent"))
    source = models.CharField(_("source"), max_length=16, choices=ConsentSource.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(_("by"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")
        indexes = [
            models.Index(fields=["member", "-created_at", "-id"], name="consent_member_time_idx")
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.consent} ({self.source})"
