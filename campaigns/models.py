"""Campaigns: the earning rules marketers steer (DESIGN.md §5, API.md "Events,
campaigns, segments, referrals").

A campaign's rule is its `kind` and `params` (checked by campaigns.params
when written, so a stored campaign never breaks a later sale); the pure engine
(campaigns.engine) evaluates snapshots of them. What a campaign has used is
kept where the sale flow can enforce it with few statements:

- `Campaign.budget_used`: points reserved against `budget_points`, written only
  for campaigns with a budget, under the campaign row's lock (the last in the
  global lock order, rewards.locks) by campaigns.services.campaign_awards_reserve.
  A CHECK keeps it within the budget.
- `CampaignMemberUse`: the points each member got in each cap period, written
  only for campaigns with a per-member cap, under the member's points-account
  lock (held by the sale or event flow), so one member's awards are serialised.
- `CampaignHoldout`: the control group, one row per campaign and member held
  out, written once.

The figures shown (`points_awarded`, `members_reached`) are read from the
ledger's entries with source ("campaign", id) (campaigns.selectors): keeping
a counter row would make every sale of an unbudgeted campaign write one shared
row, which the lean sale path forbids.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import (
    FileExtensionValidator,
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
)
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.validators import validate_broadcast_image
from loyalty import limits

HOLDOUT_MAX = 50


class CampaignKind(models.TextChoices):
    MULTIPLIER = "multiplier", _("Points multiplier")
    CATEGORY_BONUS = "category_bonus", _("Category or product bonus")
    SPEND_BONUS = "spend_bonus", _("Spend threshold bonus")
    EVENT = "event", _("Custom event")
    SIGNUP = "signup", _("Welcome bonus")
    BIRTHDAY = "birthday", _("Birthday")
    ANNIVERSARY = "anniversary", _("Membership anniversary")
    REFERRAL = "referral", _("Referral")


# Kinds evaluated on a sale; the others by their own flows (events, enrolment,
# jobs, referrals).
SALE_KINDS = (CampaignKind.MULTIPLIER, CampaignKind.CATEGORY_BONUS, CampaignKind.SPEND_BONUS)


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    ENDED = "ended", _("Ended")


class CapPeriod(models.TextChoices):
    DAY = "day", _("Per day")
    WEEK = "week", _("Per week")
    MONTH = "month", _("Per month")
    CAMPAIGN = "campaign", _("Whole campaign")


class Campaign(models.Model):
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=CampaignKind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    tiers = models.ManyToManyField(
        "members.Tier",
        verbose_name=_("tiers"),
        blank=True,
        related_name="+",
        help_text=_("Only members of these tiers. None: every tier."),
    )
    # The audience's saved segment (members.segments); a segment in use by a
    # campaign cannot be deleted.
    segment = models.ForeignKey(
        "members.Segment",
        verbose_name=_("segment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaigns",
        help_text=_("Only members in this saved segment. Empty: every member."),
    )
    stores = models.ManyToManyField(
        "loyalty.Store",
        verbose_name=_("stores"),
        blank=True,
        related_name="+",
        help_text=_("Only sales at these stores. None: every store."),
    )
    budget_points = models.PositiveBigIntegerField(
        _("total budget (points)"),
        null=True,
        blank=True,
        validators=limits.points_validators(1),
        help_text=_("Empty: no budget."),
    )
    budget_used = models.PositiveBigIntegerField(_("budget used"), default=0)
    per_member_cap = models.PositiveBigIntegerField(
        _("cap per member (points)"),
        null=True,
        blank=True,
        validators=limits.points_validators(1),
        help_text=_("Empty: no cap."),
    )
    cap_period = models.CharField(
        _("cap period"), max_length=10, choices=CapPeriod.choices, default=CapPeriod.CAMPAIGN
    )
    stackable = models.BooleanField(
        _("stacks with other campaigns"),
        default=True,
        help_text=_(
            "Stackable awards add up. Of the campaigns that do not stack, only the largest "
            "award counts."
        ),
    )
    priority = models.IntegerField(
        _("priority"),
        default=0,
        validators=[MinValueValidator(-1000), MaxValueValidator(1000)],
        help_text=_("Breaks ties between equal awards that do not stack: higher wins."),
    )
    holdout_percent = models.PositiveSmallIntegerField(
        _("hold-out (%)"),
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(HOLDOUT_MAX)],
        help_text=_("A stable share of the audience kept out of the campaign as a control group."),
    )
    params = models.JSONField(_("rule"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="campaign_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(holdout_percent__gte=0) & Q(holdout_percent__lte=HOLDOUT_MAX),
                name="campaign_holdout_bounded",
            ),
            models.CheckConstraint(
                condition=Q(budget_points__isnull=True) | Q(budget_used__lte=F("budget_points")),
                name="campaign_budget_never_exceeded",
            ),
        ]
        indexes = [models.Index(fields=["status", "starts_at"], name="campaign_status_idx")]

    def __str__(self) -> str:
        return str(self.name)


class CampaignMemberUse(models.Model):
    """What one member got from a capped campaign in one cap period
    (`period_key`: "2026-12-05", "2026-W49", "2026-12" or "campaign")."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="member_uses")
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    period_key = models.CharField(max_length=10)
    points = models.PositiveBigIntegerField(default=0)
    awards = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "member", "period_key"], name="campaign_member_period_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.member_id}/{self.period_key}: {self.points}"


class CampaignHoldout(models.Model):
    """A member of a campaign's audience kept out of it (its control group),
    recorded the first time the member was seen in the audience."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="holdouts")
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "member"], name="campaign_holdout_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.member_id}"


# A custom event's name: what a till or shop reports (API.md: "social_share",
# "review", "app_download" or any name the marketer types in a campaign),
# checked as campaigns.params.EVENT_NAME checks a campaign's.
EVENT_NAME_MAX_LENGTH = 64
EVENT_REFERENCE_MAX_LENGTH = 100


class MemberEvent(models.Model):
    """Something a member did that a campaign may reward (`POST /events`),
    recorded whether or not any campaign rewards it.

    A `reference` is unique per member: the same event reported again is found
    by the database (`event_member_reference_unique`) and answered as the
    first time. `points` is what its awards came to, so a replay needs no
    other read; `response` the first answer. `store`: the API key's store, when
    the key belongs to one.
    """

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="events")
    name = models.CharField(_("event"), max_length=EVENT_NAME_MAX_LENGTH)
    reference = models.CharField(  # noqa: DJ001  (NULL: unique only among those given)
        _("reference"), max_length=EVENT_REFERENCE_MAX_LENGTH, null=True, blank=True
    )
    occurred_at = models.DateTimeField(_("occurred"))
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now)
    store = models.ForeignKey(
        "loyalty.Store",
        verbose_name=_("store"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    points = models.PositiveBigIntegerField(_("points awarded"), default=0)
    response = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("member event")
        verbose_name_plural = _("member events")
        constraints = [
            # Not a partial index: NULLs never clash in a unique index (PostgreSQL
            # and SQLite), and `ON CONFLICT (member_id, reference)` can name it.
            models.UniqueConstraint(
                fields=["member", "reference"], name="event_member_reference_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["member", "name", "-occurred_at"], name="event_member_name_idx"),
            models.Index(fields=["store", "-occurred_at"], name="event_store_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.member_id})"


class ReferralStatus(models.TextChoices):
    JOINED = "joined", _("Joined")
    QUALIFIED = "qualified", _("Qualified")
    REWARDED = "rewarded", _("Rewarded")
    REJECTED = "rejected", _("Rejected")


class Referral(models.Model):
    """A friend who joined with a member's referral code (campaigns.referrals).

    joined → qualified (the friend's first qualifying sale, `purchase_id`) →
    rewarded (both paid, `friend_points` and `referrer_points`), or rejected
    with its `reason` (a self-referral, too many sign-ups from one address,
    the advocate's monthly cap, the budget, the qualifying sale returned).
    A friend is referred once. `reversal_due` marks a rewarded referral whose
    qualifying sale came back: its points are taken back by the settle step.
    """

    referrer = models.ForeignKey(
        "members.Member",
        verbose_name=_("referrer"),
        on_delete=models.PROTECT,
        related_name="referrals_made",
    )
    friend = models.OneToOneField(
        "members.Member",
        verbose_name=_("friend"),
        on_delete=models.PROTECT,
        related_name="referral",
    )
    code = models.CharField(_("code used"), max_length=12)
    status = models.CharField(
        _("status"), max_length=10, choices=ReferralStatus.choices, default=ReferralStatus.JOINED
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referrals",
    )
    # The qualifying sale (purchases sits above campaigns: its id, no key).
    purchase_id = models.BigIntegerField(_("qualifying purchase"), null=True, blank=True)
    purchase_occurred_at = models.DateTimeField(null=True, blank=True)
    friend_points = models.PositiveBigIntegerField(default=0)
    referrer_points = models.PositiveBigIntegerField(default=0)
    reversal_due = models.BooleanField(default=False)
    # A hash of the sign-up's network address (portal), for the sign-up limit.
    address_hash = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(_("joined"), default=timezone.now)
    qualified_at = models.DateTimeField(null=True, blank=True)
    rewarded_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        constraints = [
            models.UniqueConstraint(
                fields=["purchase_id"],
                condition=Q(purchase_id__isnull=False),
                name="referral_purchase_unique",
            ),
            models.CheckConstraint(condition=~Q(referrer=F("friend")), name="referral_not_self"),
        ]
        indexes = [
            models.Index(
                fields=["referrer", "status", "rewarded_at"], name="referral_referrer_idx"
            ),
            models.Index(
                fields=["status"],
                condition=Q(status="qualified") | Q(reversal_due=True),
                name="referral_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.friend_id}: {self.status}"


# --- Broadcasts -----------------------------------------------------------------------------------

BROADCAST_TITLE_MAX_LENGTH = 80
BROADCAST_BODY_MAX_LENGTH = 1000
# Members told per batch task (campaigns.broadcasts).
BROADCAST_BATCH_SIZE = 500


class BroadcastStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")


class Broadcast(models.Model):
    """A marketer's message to a segment's members (campaigns.broadcasts says
    how it is sent). Each member gets it once, as a "broadcast" notification
    with event key `broadcast:<id>`, and only with marketing consent.

    `segment` None: every active member. `recipients` is the audience counted
    when sending started; `delivered` and `skipped` (no consent) add up the
    batches as each commits, so they are exact; failed channel deliveries and
    openings are read from the notifications (campaigns.broadcast_selectors)."""

    title_en = models.CharField(_("title (English)"), max_length=BROADCAST_TITLE_MAX_LENGTH)
    title_ms = models.CharField(
        _("title (Malay)"),
        max_length=BROADCAST_TITLE_MAX_LENGTH,
        blank=True,
        help_text=_("Empty: members who read Malay get the English title."),
    )
    body_en = models.TextField(
        _("message (English)"),
        max_length=BROADCAST_BODY_MAX_LENGTH,
        validators=[MaxLengthValidator(BROADCAST_BODY_MAX_LENGTH)],
    )
    body_ms = models.TextField(
        _("message (Malay)"),
        max_length=BROADCAST_BODY_MAX_LENGTH,
        blank=True,
        validators=[MaxLengthValidator(BROADCAST_BODY_MAX_LENGTH)],
        help_text=_("Empty: members who read Malay get the English message."),
    )
    image = models.FileField(
        _("picture"),
        upload_to="broadcasts/",
        blank=True,
        validators=[
            FileExtensionValidator(["png", "jpg", "jpeg", "webp"]),
            validate_broadcast_image,
        ],
        help_text=_("Optional. PNG, JPEG or WebP, at most 1 MB."),
    )
    reward = models.ForeignKey(
        "rewards.Reward",
        verbose_name=_("link to a reward"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("link to a campaign"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="broadcasts",
    )
    segment = models.ForeignKey(
        "members.Segment",
        verbose_name=_("segment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="broadcasts",
        help_text=_("Empty: every active member. Only members with marketing consent get it."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=BroadcastStatus.choices, default=BroadcastStatus.DRAFT
    )
    scheduled_at = models.DateTimeField(_("send at"), null=True, blank=True)
    started_at = models.DateTimeField(_("sending started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("sent"), null=True, blank=True)
    recipients = models.PositiveIntegerField(_("recipients"), default=0)
    delivered = models.PositiveIntegerField(_("delivered"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    batches_total = models.PositiveIntegerField(default=0)
    batches_done = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("broadcast")
        verbose_name_plural = _("broadcasts")
        constraints = [
            models.CheckConstraint(
                condition=Q(reward__isnull=True) | Q(campaign__isnull=True),
                name="broadcast_one_link",
            ),
            models.CheckConstraint(
                condition=~Q(status="scheduled") | Q(scheduled_at__isnull=False),
                name="broadcast_scheduled_has_time",
            ),
            models.CheckConstraint(
                condition=Q(batches_done__lte=F("batches_total")),
                name="broadcast_batches_bounded",
            ),
        ]
        indexes = [
            models.Index(
                fields=["scheduled_at"],
                condition=Q(status="scheduled"),
                name="broadcast_due_idx",
            )
        ]

    def __str__(self) -> str:
        return str(self.title_en)

    @property
    def event_key(self) -> str:
        """The notifications' event key: one per member and broadcast."""
        return f"broadcast:{self.pk}"

    @property
    def percent(self) -> int:
        if self.status == BroadcastStatus.SENT:
            return 100
        if not self.batches_total:
            return 0
        return min(99, self.batches_done * 100 // self.batches_total)


class BroadcastBatch(models.Model):
    """Up to BROADCAST_BATCH_SIZE members of a broadcast's audience, fixed
    when sending started (`member_ids`, in id order), told by one task in one
    transaction: `done_at` is set in that transaction, so a batch that ran
    is never run again and one that rolled back runs again whole."""

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="batches")
    number = models.PositiveIntegerField()
    member_ids = models.JSONField(default=list)
    delivered = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["broadcast", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["broadcast", "number"], name="broadcast_batch_number_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["broadcast"],
                condition=Q(done_at__isnull=True),
                name="broadcast_batch_pending_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.broadcast_id}#{self.number}"


# --- Challenges and badges ------------------------------------------------------------------------
#
# docs/challenges.md tells the rules; campaigns.challenge_engine computes progress (pure),
# campaigns.challenges writes it (in the transaction of the sale, return, event or referral that
# moves it, under the member's points-account lock), campaigns.challenge_selectors reads it.

CHALLENGE_NAME_MAX_LENGTH = 120
CHALLENGE_DESCRIPTION_MAX_LENGTH = 1000
# A count goal (purchases, stores, referrals, events) and a streak's weeks.
CHALLENGE_COUNT_MAX = 100_000
STREAK_WEEKS_MAX = 520
STREAK_FREEZES_MAX = 52
STREAK_MILESTONES_MAX = 10
CHALLENGE_FILTER_MAX = 50  # categories or SKUs of a category_spend goal
ROLLING_DAYS_MAX = 3650
NICKNAME_MIN_LENGTH = 3
NICKNAME_MAX_LENGTH = 24
BADGE_NAME_MAX_LENGTH = 80
BADGE_DESCRIPTION_MAX_LENGTH = 255


class BadgeIcon(models.TextChoices):
    """The built-in icons, drawn in static/img/badges/<key>.svg."""

    STAR = "star", _("Star")
    FLAME = "flame", _("Flame")
    TROPHY = "trophy", _("Trophy")
    MEDAL = "medal", _("Medal")
    CROWN = "crown", _("Crown")
    HEART = "heart", _("Heart")
    COFFEE = "coffee", _("Coffee cup")
    BAG = "bag", _("Shopping bag")
    MAP = "map", _("Map")
    ROCKET = "rocket", _("Rocket")
    GIFT = "gift", _("Gift")
    DIAMOND = "diamond", _("Diamond")


class BadgeRarity(models.TextChoices):
    COMMON = "common", _("Common")
    RARE = "rare", _("Rare")
    EPIC = "epic", _("Epic")
    LEGENDARY = "legendary", _("Legendary")


class Badge(models.Model):
    """A badge members earn by completing challenges. Its picture is the
    uploaded `image` when there is one, else the built-in `icon`."""

    name = models.CharField(_("name"), max_length=BADGE_NAME_MAX_LENGTH, unique=True)
    description = models.CharField(
        _("description"), max_length=BADGE_DESCRIPTION_MAX_LENGTH, blank=True
    )
    icon = models.CharField(
        _("icon"), max_length=16, choices=BadgeIcon.choices, default=BadgeIcon.STAR
    )
    image = models.FileField(
        _("own picture"),
        upload_to="badges/",
        blank=True,
        validators=[
            FileExtensionValidator(["png", "jpg", "jpeg", "webp"]),
            validate_broadcast_image,
        ],
        help_text=_("Optional, instead of the icon. PNG, JPEG or WebP, at most 1 MB."),
    )
    rarity = models.CharField(
        _("rarity"), max_length=10, choices=BadgeRarity.choices, default=BadgeRarity.COMMON
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("badge")
        verbose_name_plural = _("badges")

    def __str__(self) -> str:
        return str(self.name)


class ChallengeGoal(models.TextChoices):
    PURCHASE_COUNT = "purchase_count", _("Number of purchases")
    SPEND = "spend", _("Spend")
    CATEGORY_SPEND = "category_spend", _("Spend in categories or products")
    STORES_VISITED = "stores_visited", _("Different stores visited")
    REFERRALS = "referrals", _("Friends referred")
    EVENT_COUNT = "event_count", _("Number of events")
    WEEKLY_STREAK = "weekly_streak", _("Weekly streak")


# Goals whose target is an amount of money; the others count.
MONEY_GOALS = (ChallengeGoal.SPEND, ChallengeGoal.CATEGORY_SPEND)


class Challenge(models.Model):
    """A goal members chase over a window (docs/challenges.md).

    `target`: purchases, stores, referrals, events or weeks (a whole number)
    or an amount of money for the spend goals. The window is the challenge's
    `starts_at`..`ends_at`, and with `rolling_days` each member's own
    `rolling_days` from joining. `status` has the campaigns' states
    (`scheduled` and `active` count from `starts_at`). Completing pays
    `reward_points`, the `badge` and the catalogue `reward` (a free voucher),
    once per round; a `repeatable` challenge starts a new round after each.
    """

    name = models.CharField(_("name"), max_length=CHALLENGE_NAME_MAX_LENGTH)
    description = models.TextField(
        _("description"),
        max_length=CHALLENGE_DESCRIPTION_MAX_LENGTH,
        blank=True,
        validators=[MaxLengthValidator(CHALLENGE_DESCRIPTION_MAX_LENGTH)],
    )
    goal = models.CharField(_("goal"), max_length=20, choices=ChallengeGoal.choices)
    target = models.DecimalField(
        _("target"),
        max_digits=limits.MONEY_DIGITS,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(limits.MONEY_MAX)],
    )
    # category_spend: the lines that count (a category or a SKU among these).
    categories = models.JSONField(_("categories"), default=list, blank=True)
    skus = models.JSONField(_("products (SKUs)"), default=list, blank=True)
    # event_count: the custom event's name (POST /events).
    event = models.CharField(_("event"), max_length=EVENT_NAME_MAX_LENGTH, blank=True)
    # weekly_streak: missed weeks forgiven, and bonuses [{"weeks", "points"}] at those lengths.
    streak_freezes = models.PositiveSmallIntegerField(
        _("missed weeks forgiven"),
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(STREAK_FREEZES_MAX)],
    )
    streak_milestones = models.JSONField(_("streak milestones"), default=list, blank=True)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    rolling_days = models.PositiveIntegerField(
        _("days from joining"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(ROLLING_DAYS_MAX)],
        help_text=_("Empty: the challenge's own dates for everyone."),
    )
    opt_in = models.BooleanField(
        _("members join it"),
        default=True,
        help_text=_("Off: every member of the audience takes part without joining."),
    )
    tiers = models.ManyToManyField(
        "members.Tier",
        verbose_name=_("tiers"),
        blank=True,
        related_name="+",
        help_text=_("Only members of these tiers. None: every tier."),
    )
    segment = models.ForeignKey(
        "members.Segment",
        verbose_name=_("segment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="challenges",
        help_text=_("Only members in this saved segment. Empty: every member."),
    )
    reward_points = models.PositiveBigIntegerField(
        _("points on completion"), default=0, validators=limits.points_validators(0)
    )
    badge = models.ForeignKey(
        Badge,
        verbose_name=_("badge on completion"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="challenges",
    )
    reward = models.ForeignKey(
        "rewards.Reward",
        verbose_name=_("reward on completion"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    repeatable = models.BooleanField(_("may be completed again"), default=False)
    leaderboard = models.BooleanField(_("leaderboard"), default=False)
    status = models.CharField(
        _("status"), max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("challenge")
        verbose_name_plural = _("challenges")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="challenge_window_ordered",
            ),
            models.CheckConstraint(condition=Q(target__gt=0), name="challenge_target_positive"),
        ]
        indexes = [models.Index(fields=["status", "starts_at"], name="challenge_status_idx")]

    def __str__(self) -> str:
        return str(self.name)


class ParticipationStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    # Never stored: an in-progress participation past its window reads as expired.
    EXPIRED = "expired", _("Expired")


class ChallengeParticipation(models.Model):
    """One member in one challenge: the current round's progress.

    `progress` is the goal's measure (a count, an amount, a streak's weeks);
    `state` what the engine needs to move it both ways (campaigns.challenge_engine:
    stores visited, weeks with purchases, freezes used). `reached_at` is when
    `progress` reached its value (leaderboard ties: who got there first);
    `streak_week` the last week with a purchase (weeks counted from
    1970-01-05, a Monday, in the program's time zone), so the streak board
    can leave out broken streaks in SQL. Written only under the member's
    points-account lock.
    """

    # No index of their own: the unique (challenge, member) serves a
    # challenge's rows and (member, status) a member's; each index less is one
    # less to write when a sale inserts a participation.
    challenge = models.ForeignKey(
        Challenge, on_delete=models.CASCADE, related_name="participations", db_index=False
    )
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.CASCADE,
        related_name="challenge_participations",
        db_index=False,
    )
    round = models.PositiveIntegerField(default=1)
    status = models.CharField(
        max_length=12,
        choices=ParticipationStatus.choices,
        default=ParticipationStatus.IN_PROGRESS,
    )
    joined_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True)
    progress = models.DecimalField(max_digits=limits.MONEY_DIGITS + 2, decimal_places=2, default=0)
    state = models.JSONField(default=dict, blank=True)
    streak_week = models.IntegerField(null=True, blank=True)
    reached_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    times_completed = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["challenge", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["challenge", "member"], name="participation_challenge_member_unique"
            ),
        ]
        # No index on `progress`: every sale changes it, and an indexed column
        # would keep PostgreSQL from updating the row in place (a HOT update).
        # A board sorts its challenge's rows, found by the unique index.
        indexes = [models.Index(fields=["member", "status"], name="participation_member_idx")]

    def __str__(self) -> str:
        return f"{self.challenge_id}/{self.member_id}: {self.progress}"


class ChallengeAwardKind(models.TextChoices):
    COMPLETION = "completion", _("Completion")
    MILESTONE = "milestone", _("Streak milestone")


class ChallengeAward(models.Model):
    """What one completion (or streak milestone) of a round paid, written once:
    `challenge_award_unique` is why a completion is paid once even when its
    sale is posted twice at the same moment. `source_type`/`source_id` is what
    completed it ("purchase", "event", "referral"); `reversed_at` is set when
    that purchase came back in full and `points` were taken back (the
    challenge stays completed)."""

    challenge = models.ForeignKey(Challenge, on_delete=models.PROTECT, related_name="awards")
    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="challenge_awards"
    )
    round = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=ChallengeAwardKind.choices)
    weeks = models.PositiveIntegerField(default=0)  # a milestone's streak length
    points = models.PositiveBigIntegerField(default=0)
    badge = models.ForeignKey(
        Badge, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    voucher_id = models.BigIntegerField(null=True, blank=True)
    source_type = models.CharField(max_length=16)
    source_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    reversed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["challenge", "member", "round", "kind", "weeks"],
                name="challenge_award_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["source_type", "source_id"], name="challenge_award_source_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.challenge_id}/{self.member_id}#{self.round} {self.kind}"


class MemberBadge(models.Model):
    """A badge a member holds: earned the first time at `earned_at`, `times`
    how often since."""

    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="badges")
    badge = models.ForeignKey(Badge, on_delete=models.PROTECT, related_name="holders")
    challenge = models.ForeignKey(
        Challenge, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    times = models.PositiveIntegerField(default=1)
    earned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-earned_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["member", "badge"], name="member_badge_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.badge_id}"


class LeaderboardProfile(models.Model):
    """A member who shows on leaderboards, under a nickname that is not their
    name, email or phone (checked by campaigns.challenges.leaderboard_join).
    Unique whatever its case (`nickname_key`: the nickname casefolded)."""

    member = models.OneToOneField(
        "members.Member", on_delete=models.CASCADE, related_name="leaderboard_profile"
    )
    nickname = models.CharField(_("nickname"), max_length=NICKNAME_MAX_LENGTH)
    nickname_key = models.CharField(max_length=NICKNAME_MAX_LENGTH * 3, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return str(self.nickname)
