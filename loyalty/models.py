"""Platform models: users, stores, program settings, API keys, idempotency, audit,
notifications (the inbox, the deliveries by channel, the members' preferences)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty import limits


class UserManager(BaseUserManager["User"]):
    """Users are identified by email; there is no username."""

    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("Users must have an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who signs in: a member, a staff user, or both."""

    username = None
    email = models.EmailField(_("email address"), unique=True)
    # The store a store-staff account works at: its back-office lists of
    # store-bound work (the service-recovery queue) show that store's only.
    # Empty: every store, as for managers and marketers.
    store = models.ForeignKey(
        "loyalty.Store",
        verbose_name=_("store"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.get_full_name() or self.email


class StaffPermission(models.Model):
    """Holds the back-office permissions that the staff roles are made of.

    It has no table: it only gives the permissions a content type, so that
    `user.has_perm("loyalty.serve_counter")` works and the role groups created
    by migration 0002 can hold them.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("serve_counter", _("Can serve members at the counter")),
            ("manage_marketing", _("Can manage campaigns, rewards, segments and broadcasts")),
            ("view_analytics", _("Can read analytics")),
            ("manage_program", _("Can manage program settings, tiers, stores, staff and API keys")),
            ("view_audit_log", _("Can read the audit log")),
        ]

    def __str__(self) -> str:
        return "staff permissions"


class Store(models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=120)
    address = models.CharField(_("address"), max_length=255, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("store")
        verbose_name_plural = _("stores")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


HEX_COLOUR = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Enter a colour as # and six hex digits."))


def _relative_luminance(colour: str) -> float:
    """WCAG 2's relative luminance of a #rrggbb colour."""
    channels = []
    for start in (1, 3, 5):
        value = int(colour[start : start + 2], 16) / 255
        channels.append(value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_with_white(colour: str) -> float:
    """WCAG 2's contrast ratio of white text on `colour` (1 to 21)."""
    return 1.05 / (_relative_luminance(colour) + 0.05)


# White text on the brand colour (the emails' header) must stay readable: WCAG AA.
BRAND_CONTRAST_MIN = 4.5


class TierBasis(models.TextChoices):
    POINTS = "points", _("Points earned")
    SPEND = "spend", _("Spend")


class ProgramSettings(models.Model):
    """The one row of program-wide settings (pk is always 1)."""

    SINGLETON_PK = 1

    name = models.CharField(_("program name"), max_length=80, default="Setia Rewards")
    merchant_name = models.CharField(_("merchant name"), max_length=120, default="Setia")
    earn_points = models.PositiveIntegerField(
        _("points earned"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(limits.EARN_POINTS_MAX)],
    )
    earn_per_amount = models.DecimalField(
        _("per amount spent"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    point_value = models.DecimalField(
        _("value of one point"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0.01"),
        validators=[MinValueValidator(Decimal("0.00")), MaxValueValidator(limits.POINT_VALUE_MAX)],
    )
    pending_days = models.PositiveIntegerField(
        _("pending days"), default=0, validators=limits.days_validators(0, limits.PENDING_DAYS_MAX)
    )
    expiry_days = models.PositiveIntegerField(
        _("expiry days"), null=True, blank=True, default=365, validators=limits.days_validators()
    )
    tier_basis = models.CharField(
        _("tier basis"), max_length=10, choices=TierBasis.choices, default=TierBasis.SPEND
    )
    tier_window_days = models.PositiveIntegerField(
        _("tier window days"),
        null=True,
        blank=True,
        default=365,
        validators=limits.days_validators(),
    )
    staff_adjust_limit = models.PositiveBigIntegerField(
        _("store staff adjustment limit (points)"),
        default=500,
        validators=limits.points_validators(),
    )
    brand_color = models.CharField(
        _("brand colour"),
        max_length=7,
        default="#0b6e69",
        validators=[HEX_COLOUR],
        help_text=_("The header of the members' emails, under white text."),
    )
    accent_color = models.CharField(
        _("accent colour"),
        max_length=7,
        default="#f2c14e",
        validators=[HEX_COLOUR],
        help_text=_("The stripe under the emails' header."),
    )
    expiry_warning_days = models.PositiveIntegerField(
        _("expiry warning days"),
        null=True,
        blank=True,
        default=14,
        validators=limits.days_validators(1, limits.EXPIRY_WARNING_DAYS_MAX),
        help_text=_(
            "Members are told this many days before their points or vouchers expire; "
            "leave empty for no reminders."
        ),
    )
    main_store = models.ForeignKey(
        Store,
        verbose_name=_("main store"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("program settings")
        verbose_name_plural = _("program settings")
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="program_settings_singleton"),
            models.CheckConstraint(
                condition=models.Q(earn_per_amount__gt=0), name="earn_per_amount_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(earn_points__gte=1), name="earn_points_positive"
            ),
        ]

    def __str__(self) -> str:
        return str(self.name)

    def clean(self) -> None:
        # The rate bounds what one sale can earn (loyalty/limits.py), whichever
        # of its two fields moves.
        if (
            isinstance(self.earn_points, int)
            and isinstance(self.earn_per_amount, Decimal)
            and self.earn_per_amount > 0
            and self.earn_points > self.earn_per_amount * limits.EARN_RATE_MAX
        ):
            raise ValidationError(
                {
                    "earn_points": _(
                        "At most %(rate)s points per 1.00 spent: raise the amount or lower "
                        "the points."
                    )
                    % {"rate": limits.EARN_RATE_MAX}
                }
            )
        # White text on a pale brand colour cannot be read: refused when written.
        colour = self.brand_color or ""
        readable = not HEX_COLOUR.regex.fullmatch(colour) or (
            contrast_with_white(colour) >= BRAND_CONTRAST_MIN
        )
        if not readable:
            raise ValidationError(
                {
                    "brand_color": _(
                        "White text on this colour is hard to read: choose a darker one."
                    )
                }
            )

    @property
    def currency(self) -> str:
        return settings.LOYALTY_CURRENCY


class ApiScope(models.TextChoices):
    POS = "pos", _("Point of sale")
    ADMIN = "admin", _("Administration")


class ApiKey(models.Model):
    """A key a till or merchant system signs its API calls with.

    Only a SHA-256 of the key is stored; the key itself is shown once, when it
    is created. `prefix` identifies the key in lists and finds its row.
    """

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(_("scopes"), default=list)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), null=True, blank=True, on_delete=models.PROTECT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        """`admin` includes everything `pos` may do."""
        return scope in self.scopes or ApiScope.ADMIN in self.scopes

    @property
    def store_scope(self) -> Store | None:
        """The one store this key acts for, or None for every store (API.md,
        Conventions). A `pos` key tied to a store sells, reads and returns at
        that store only. An `admin` key acts for every store: its store, if
        any, is only the default of its sales."""
        return None if ApiScope.ADMIN in self.scopes else self.store


class IdempotencyRecord(models.Model):
    """The stored outcome of a POST made with an `Idempotency-Key`.

    `scope` is whose key it is ("key:<api key id>" or "user:<user id>"), so two
    integrators can use the same key without meeting.
    """

    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    status_code = models.PositiveSmallIntegerField()
    # The JSON as sent, as text: a JSON column (jsonb) would reorder its keys.
    response_body = models.TextField()
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} → {self.status_code}"


class AuditEvent(models.Model):
    """One staff (or API) write: who did what to which object, from where."""

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    actor_label = models.CharField(_("actor"), max_length=255)
    action = models.CharField(_("action"), max_length=100, db_index=True)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=255, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"


# --- Notifications (loyalty.notifications) -----------------------------------------------------


class Notification(models.Model):
    """One message in a member's inbox, in the language the member had when it
    was written. `event_key` names the event for this member (unique with the
    member): telling a member of one event twice writes one entry."""

    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("kind"), max_length=32)
    event_key = models.CharField(max_length=160)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    # A path of the portal the message points to ("" for none).
    link = models.CharField(max_length=255, blank=True)
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "event_key"], name="notification_member_event_unique"
            )
        ]
        indexes = [
            models.Index(fields=["member", "-created_at", "-id"], name="notification_inbox_idx"),
            models.Index(
                fields=["member"],
                condition=models.Q(read_at__isnull=True),
                name="notification_unread_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.kind}: {self.title}"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    # Not sent after all: consent withdrawn or the member blocked meanwhile.
    CANCELLED = "cancelled", _("Cancelled")


class NotificationDelivery(models.Model):
    """A notification's sending by one channel (email, sms, push…): one row per
    (notification, channel), that is per (member, event, channel). A task
    claims it (queued → sending) in one conditional UPDATE before it sends, so
    a retried or doubled task sends once."""

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(_("channel"), max_length=16)
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification delivery")
        verbose_name_plural = _("notification deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel"], name="delivery_event_channel_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.notification_id} {self.channel}: {self.status}"


class NotificationPreference(models.Model):
    """A member's choice for one kind and channel, where it differs from the
    kind's default (no row: the default)."""

    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=32)
    channel = models.CharField(max_length=16)
    enabled = models.BooleanField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "kind", "channel"], name="preference_member_kind_channel_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.kind}/{self.channel}: {self.enabled}"


# --- Webhooks (API.md, "Feedback, notifications, webhooks"; loyalty/webhooks.py) ----------------


class WebhookEventType(models.TextChoices):
    MEMBER_ENROLLED = "member.enrolled", _("Member enrolled")
    MEMBER_UPDATED = "member.updated", _("Member updated")
    PURCHASE_RECORDED = "purchase.recorded", _("Purchase recorded")
    PURCHASE_RETURNED = "purchase.returned", _("Purchase returned")
    POINTS_ADJUSTED = "points.adjusted", _("Points adjusted")
    POINTS_EXPIRING = "points.expiring", _("Points expiring")
    TIER_CHANGED = "tier.changed", _("Tier changed")
    REWARD_REDEEMED = "reward.redeemed", _("Reward redeemed")
    VOUCHER_USED = "voucher.used", _("Voucher used")
    GIFTCARD_CHARGED = "giftcard.charged", _("Gift card charged")
    CAMPAIGN_AWARDED = "campaign.awarded", _("Campaign points awarded")
    CHALLENGE_COMPLETED = "challenge.completed", _("Challenge completed")
    FEEDBACK_RECEIVED = "feedback.received", _("Feedback received")


class WebhookDisabledReason(models.TextChoices):
    NONE = "", _("Not disabled")
    GONE = "gone", _("The receiver answered 410 Gone")
    FAILING = "failing", _("Every delivery failed for 5 days")
    MANAGER = "manager", _("Paused by a manager")


class WebhookEndpoint(models.Model):
    """A merchant system's URL that receives the chosen events, signed with
    `secret` (Standard Webhooks: `whsec_` + base64 of 32 random bytes). The
    secret is kept so deliveries can be signed; it is shown once, when the
    endpoint is created."""

    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=120, blank=True)
    secret = models.CharField(max_length=64)
    events = models.JSONField(_("events"), default=list)
    active = models.BooleanField(_("active"), default=True)
    disabled_reason = models.CharField(
        _("disabled because"),
        max_length=10,
        choices=WebhookDisabledReason.choices,
        blank=True,
        default="",
    )
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True)
    # The first failure since the last delivered attempt: 5 days of failures
    # from here disable the endpoint.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return str(self.url)


class WebhookEvent(models.Model):
    """The outbox: one row per event, written in the transaction of the change
    it tells of. `msg_id` is the `webhook-id` of every delivery of it.
    `endpoint_ids` are the endpoints subscribed when it was written; the relay
    makes their deliveries (`fanned_out`), outside the change's transaction.
    `key`, when given, makes the event once only (a lot's expiry warning)."""

    msg_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=40, choices=WebhookEventType.choices)
    created_at = models.DateTimeField(db_index=True)
    data = models.JSONField(default=dict)
    endpoint_ids = models.JSONField(default=list)
    fanned_out = models.BooleanField(default=False)
    key = models.CharField(max_length=100, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["id"],
                condition=models.Q(fanned_out=False),
                name="webhook_event_fan_out_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.msg_id} {self.type}"


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event to one endpoint: attempted until a 2xx answer, retried with
    exponential backoff for at least 24 hours (loyalty.webhook_relay)."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=WebhookDeliveryStatus.choices,
        default=WebhookDeliveryStatus.PENDING,
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # When a relay may try it next (a claimed attempt pushes it by a lease);
    # None once delivered or given up.
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    last_error = models.CharField(_("error"), max_length=255, blank=True)
    last_duration_ms = models.PositiveIntegerField(_("response time (ms)"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["event", "endpoint"], name="webhook_delivery_event_endpoint_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_due_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One POST of a delivery: the log the delivery page shows."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField(_("attempt"))
    at = models.DateTimeField(_("time"))
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=255, blank=True)
    duration_ms = models.PositiveIntegerField(_("response time (ms)"), default=0)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "number"], name="webhook_attempt_number_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number} {self.status_code or self.error}"


class ImportKind(models.TextChoices):
    MEMBERS = "members", _("Members")
    PURCHASES = "purchases", _("Past purchases")


class ImportStatus(models.TextChoices):
    CHECKING = "checking", _("Checking")
    CHECKED = "checked", _("Checked")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportJob(models.Model):
    """One CSV file uploaded for import (loyalty.imports): its dry run, then
    its real run, each a Celery task that writes its progress here so the
    page shows a progress bar, and what each found (counts and the first
    `imports.ERRORS_KEPT` bad lines)."""

    kind = models.CharField(_("kind"), max_length=10, choices=ImportKind.choices)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    file_name = models.CharField(_("file name"), max_length=255)
    no_points = models.BooleanField(_("without points"), default=False)
    status = models.CharField(
        _("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.CHECKING
    )
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    # What the dry run found, then (replacing it) what the real run did.
    imported = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    errors_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    checked_imported = models.PositiveIntegerField(default=0)
    checked_errors = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self) -> str:
        return f"{self.kind}: {self.file_name}"

    @property
    def pending(self) -> bool:
        return self.status in (ImportStatus.CHECKING, ImportStatus.QUEUED, ImportStatus.RUNNING)

    @property
    def percent(self) -> int:
        if self.status in (ImportStatus.CHECKED, ImportStatus.DONE):
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_done * 100 // self.rows_total)
