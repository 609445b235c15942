"""Surveys (NPS, CSAT) and service recovery: the settings of each survey, the
invitations sent after purchases, the answers, and the follow-ups of poor
answers (analytics.surveys, analytics.recovery, analytics.feedback)."""

from __future__ import annotations

from datetime import date, datetime

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Bounds of the survey settings (loyalty.limits' rule: each fits its column
# and every time derived from it).
DELAY_HOURS_MAX = 30 * 24
COOLDOWN_DAYS_MAX = 365
FOLLOW_UP_HOURS_MAX = 30 * 24
QUESTION_MAX_LENGTH = 300
COMMENT_MAX_LENGTH = 1000
NOTE_MAX_LENGTH = 2000
# Goodwill a follow-up may give: a gesture, not a correction (those are
# points adjustments, with their own limits).
GOODWILL_POINTS_MAX = 10_000


class SurveyKind(models.TextChoices):
    NPS = "nps", _("NPS")
    CSAT = "csat", _("CSAT")


# The scores each kind takes, both ends included.
SCORE_RANGE: dict[str, tuple[int, int]] = {SurveyKind.NPS: (0, 10), SurveyKind.CSAT: (1, 5)}
# A detractor's highest score: NPS 0–6, CSAT 1–2 (docs/analytics.md).
DETRACTOR_MAX: dict[str, int] = {SurveyKind.NPS: 6, SurveyKind.CSAT: 2}


def score_is_detractor(kind: str, score: int) -> bool:
    return score <= DETRACTOR_MAX[kind]


class SurveySettings(models.Model):
    """How one survey kind runs. Without a row, its defaults apply
    (analytics.surveys.survey_settings_get)."""

    kind = models.CharField(_("survey"), max_length=8, choices=SurveyKind.choices, unique=True)
    enabled = models.BooleanField(
        _("invite members after their purchases"),
        default=False,
        help_text=_(
            "Members are asked by message after a purchase. The portal's feedback page and the "
            "tills' POST /feedback take answers either way."
        ),
    )
    question_en = models.CharField(_("question in English"), max_length=QUESTION_MAX_LENGTH)
    question_ms = models.CharField(_("question in Malay"), max_length=QUESTION_MAX_LENGTH)
    delay_hours = models.PositiveIntegerField(
        _("hours after the purchase"),
        default=24,
        validators=[MaxValueValidator(DELAY_HOURS_MAX)],
        help_text=_("When the invitation goes out: 0 to 720 hours (30 days) after the sale."),
    )
    sample_percent = models.PositiveSmallIntegerField(
        _("purchases sampled (%)"),
        default=20,
        validators=[MaxValueValidator(100)],
        help_text=_("The share of members' purchases that get an invitation: 0 to 100."),
    )
    cooldown_days = models.PositiveSmallIntegerField(
        _("days between two invitations to one member"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(COOLDOWN_DAYS_MAX)],
        help_text=_(
            "A member is asked this survey at most once in this many days (1 to 365), and not "
            "when they answered it in that time."
        ),
    )
    answer_event = models.CharField(
        _("custom event recorded for an answer"),
        max_length=64,
        blank=True,
        default="survey_answered",
        help_text=_(
            "Answering an invitation records this event for the member, so an event campaign "
            "can pay points for it. Leave empty for none."
        ),
    )
    follow_up_hours = models.PositiveIntegerField(
        _("hours to follow a poor answer up"),
        default=48,
        validators=[MinValueValidator(1), MaxValueValidator(FOLLOW_UP_HOURS_MAX)],
        help_text=_(
            "A detractor's answer goes to the follow-up queue, due this many hours later "
            "(1 to 720)."
        ),
    )
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("survey settings")
        verbose_name_plural = _("survey settings")

    def __str__(self) -> str:
        return self.get_kind_display()

    def question(self, language: str) -> str:
        """The question in `language`, else English."""
        return (self.question_ms if language == "ms" else "") or self.question_en


class SurveyInvitation(models.Model):
    """One member asked one survey about one purchase (at most one invitation
    a purchase, whatever the kind). Open until answered or `expires_at`."""

    kind = models.CharField(_("survey"), max_length=8, choices=SurveyKind.choices)
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="survey_invitations"
    )
    purchase = models.OneToOneField(
        "purchases.Purchase", on_delete=models.PROTECT, related_name="survey_invitation"
    )
    sent_at = models.DateTimeField(_("sent"))
    expires_at = models.DateTimeField(_("open until"))
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("survey invitation")
        verbose_name_plural = _("survey invitations")
        indexes = [
            models.Index(fields=["member", "kind", "-sent_at"], name="invitation_member_kind_idx")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.member_id}/{self.purchase_id}"


class FeedbackSource(models.TextChoices):
    INVITATION = "invitation", _("Invitation")
    PORTAL = "portal", _("Portal")
    TILL = "till", _("Till or kiosk")


class Feedback(models.Model):
    """One answer: a score (0 counts: an NPS of 0 is the strongest
    detractor), a comment, and whom and what it is about when known. One
    answer of each kind a purchase."""

    kind = models.CharField(_("survey"), max_length=8, choices=SurveyKind.choices)
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), max_length=COMMENT_MAX_LENGTH, blank=True)
    member = models.ForeignKey(
        "members.Member",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="feedback",
    )
    purchase = models.ForeignKey(
        "purchases.Purchase", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    store = models.ForeignKey(
        "loyalty.Store", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    invitation = models.OneToOneField(
        SurveyInvitation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="feedback",
    )
    source = models.CharField(_("from"), max_length=12, choices=FeedbackSource.choices)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="nps") & Q(score__gte=0) & Q(score__lte=10))
                | (Q(kind="csat") & Q(score__gte=1) & Q(score__lte=5)),
                name="feedback_score_in_range",
            ),
            # A NULL purchase is never equal to another: answers about no purchase repeat.
            models.UniqueConstraint(fields=["purchase", "kind"], name="feedback_purchase_kind"),
        ]
        indexes = [
            models.Index(fields=["kind", "created_at"], name="feedback_kind_time_idx"),
            models.Index(fields=["store", "kind", "created_at"], name="feedback_store_time_idx"),
            models.Index(fields=["member", "kind", "-created_at"], name="feedback_member_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.score}"

    @property
    def is_detractor(self) -> bool:
        return score_is_detractor(self.kind, self.score)


class FollowUpStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class FollowUp(models.Model):
    """A detractor's answer in the service-recovery queue: due by `due_at`,
    closed by a member of staff with a note of what they did, maybe with
    goodwill points (their ledger entry kept here)."""

    feedback = models.OneToOneField(Feedback, on_delete=models.PROTECT, related_name="follow_up")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    # Whose queue it is in: the answer's store, else the member's home store.
    store = models.ForeignKey(
        "loyalty.Store", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=8, choices=FollowUpStatus.choices, default=FollowUpStatus.OPEN
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    due_at = models.DateTimeField(_("due"))
    note = models.TextField(_("what was done"), max_length=NOTE_MAX_LENGTH, blank=True)
    goodwill_points = models.PositiveIntegerField(
        _("goodwill points"),
        default=0,
        validators=[MaxValueValidator(GOODWILL_POINTS_MAX)],
    )
    goodwill_entry = models.ForeignKey(
        "members.PointsEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        constraints = [
            models.CheckConstraint(
                condition=Q(goodwill_points__lte=GOODWILL_POINTS_MAX),
                name="follow_up_goodwill_bounded",
            ),
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True)
                | Q(status="closed", closed_at__isnull=False),
                name="follow_up_closed_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="follow_up_queue_idx"),
            models.Index(fields=["store", "status", "due_at"], name="follow_up_store_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.feedback_id} ({self.status})"

    def is_overdue(self, now: datetime | None = None) -> bool:
        return self.status == FollowUpStatus.OPEN and self.due_at <= (now or timezone.now())


# --- Predictions (analytics.clv, analytics.predictions) -------------------------------------


class PredictionPeriod(models.TextChoices):
    DAY = "day", _("day")
    WEEK = "week", _("week")


class PredictionFit(models.Model):
    """One fit of BG/NBD and Gamma-Gamma on the purchases before `fitted_at`
    (docs/analytics.md, "Predictions"). The job keeps one a time it runs at."""

    fitted_at = models.DateTimeField(_("purchases up to"), unique=True)
    period = models.CharField(
        _("period"), max_length=8, choices=PredictionPeriod.choices, default=PredictionPeriod.DAY
    )
    customers = models.PositiveIntegerField(_("members in the fit"))
    r = models.FloatField()
    alpha = models.FloatField()
    a = models.FloatField()
    b = models.FloatField()
    log_likelihood = models.FloatField(_("BG/NBD log-likelihood"))
    # Gamma-Gamma: members with repeat purchases of positive value; null when
    # too few had any (expected spend then falls back on the plain mean).
    spenders = models.PositiveIntegerField(_("members in the spend fit"), default=0)
    p = models.FloatField(null=True, blank=True)
    q = models.FloatField(null=True, blank=True)
    v = models.FloatField(null=True, blank=True)
    spend_log_likelihood = models.FloatField(_("Gamma-Gamma log-likelihood"), null=True, blank=True)

    class Meta:
        ordering = ["-fitted_at"]
        verbose_name = _("prediction fit")
        verbose_name_plural = _("prediction fits")

    def __str__(self) -> str:
        return f"{self.fitted_at:%Y-%m-%d %H:%M} ({self.customers})"


class MemberPrediction(models.Model):
    """A member's latest prediction: one row a member, replaced by each fit."""

    member = models.OneToOneField(
        "members.Member", on_delete=models.CASCADE, primary_key=True, related_name="prediction"
    )
    fit = models.ForeignKey(PredictionFit, on_delete=models.CASCADE, related_name="+")
    churn_risk = models.FloatField(
        _("churn risk"),
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_(
            "The chance the member has stopped buying: 1 minus the chance they are still "
            "active (BG/NBD)."
        ),
    )
    expected_purchases = models.FloatField(_("purchases expected in 12 months"))
    expected_spend = models.DecimalField(
        _("spend expected per purchase"), max_digits=12, decimal_places=2
    )
    predicted_value = models.DecimalField(
        _("predicted 12-month value"), max_digits=14, decimal_places=2
    )
    purchases = models.PositiveIntegerField(_("purchase days to date"))
    last_purchase_on = models.DateField(_("last purchase"))

    class Meta:
        verbose_name = _("member prediction")
        verbose_name_plural = _("member predictions")
        constraints = [
            models.CheckConstraint(
                condition=Q(churn_risk__gte=0, churn_risk__lte=1), name="prediction_risk_share"
            ),
        ]
        indexes = [
            models.Index(fields=["-churn_risk"], name="prediction_risk_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.churn_risk:.2f} {self.predicted_value}"


# --- Roll-ups (analytics.rollups) -------------------------------------------------------------
# What the dashboards and GET /analytics/summary read instead of raw purchases
# and ledger entries. Each table is a pure function of the raw rows of its day
# (or month): analytics.rollups rewrites a day's rows whole, so a day computed
# twice has the same rows. Days are local days of the program's time zone.
ROLLUP_MONEY = {"max_digits": 16, "decimal_places": 2}


class StoreDay(models.Model):
    """A store's sales of one day (the day of the sale, not of its returns):
    every sale counts once, its amount net of whatever was returned of it (a
    sale returned in full nets to 0.00), split member / anonymous, with the
    points earned on them net of reversals and the points paid at the till
    net of refunds."""

    day = models.DateField()
    store = models.ForeignKey("loyalty.Store", on_delete=models.CASCADE, related_name="+")
    sales = models.PositiveIntegerField(default=0)
    amount = models.DecimalField(**ROLLUP_MONEY, default=0)
    member_sales = models.PositiveIntegerField(default=0)
    member_amount = models.DecimalField(**ROLLUP_MONEY, default=0)
    returned_amount = models.DecimalField(**ROLLUP_MONEY, default=0)
    points_earned = models.BigIntegerField(default=0)
    points_paid = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "store"], name="store_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.store_id}: {self.sales} {self.amount}"


class LedgerDay(models.Model):
    """The ledger of one day (the day each entry was written), by the members'
    home store (`store` null: members without one), with the members who
    joined that day. Points are positive counts of each movement:
    `outstanding` points move by earned - reversed + adjusted - redeemed +
    refunded - expired (releases only move points from pending to spendable)."""

    day = models.DateField()
    store = models.ForeignKey(
        "loyalty.Store", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    members_joined = models.PositiveIntegerField(default=0)
    earned = models.BigIntegerField(default=0)
    reversed = models.BigIntegerField(default=0)
    adjusted = models.BigIntegerField(default=0)
    redeemed = models.BigIntegerField(default=0)
    refunded = models.BigIntegerField(default=0)
    expired = models.BigIntegerField(default=0)

    class Meta:
        # Two partial constraints: a plain unique (day, store) lets any number
        # of NULL-store rows of one day in (NULLs are distinct), the defect of
        # a record keyed without its store.
        constraints = [
            models.UniqueConstraint(
                fields=["day", "store"],
                condition=Q(store__isnull=False),
                name="ledger_day_store_unique",
            ),
            models.UniqueConstraint(
                fields=["day"], condition=Q(store__isnull=True), name="ledger_day_nostore_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.store_id}: +{self.earned} -{self.redeemed}"

    @property
    def net(self) -> int:
        return (
            self.earned
            - self.reversed
            + self.adjusted
            - self.redeemed
            + self.refunded
            - self.expired
        )


class MemberMonth(models.Model):
    """A member's purchases at one store in one month (`month`: its first
    day), for the figures that count members (active, repeat, retention,
    cohorts, CLV): `purchases` counts sales not returned in full, `amount` is
    net of returns, `first_day` and `last_day` the local days of the first
    and last of them."""

    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    store = models.ForeignKey("loyalty.Store", on_delete=models.CASCADE, related_name="+")
    purchases = models.PositiveIntegerField(default=0)
    amount = models.DecimalField(**ROLLUP_MONEY, default=0)
    first_day = models.DateField()
    last_day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "month", "store"], name="member_month_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["month", "store"], name="member_month_store_idx"),
            models.Index(fields=["last_day"], name="member_month_last_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.month} {self.store_id}: {self.purchases}"


class MemberDay(models.Model):
    """A member's day with a purchase at a store (a sale returned in full not
    counting): what ActiveCell is kept from."""

    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey("loyalty.Store", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "store", "day"], name="member_day_unique"),
        ]
        indexes = [
            models.Index(fields=["day"], name="member_day_day_idx"),
            # A member's purchase days before and after a day, at any store.
            models.Index(fields=["member", "day"], name="member_day_member_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.store_id} {self.day}"


class RollupState(models.Model):
    """Where the `rollups` job got to: the highest ids of purchases, returns,
    ledger entries, members and members' audit events it has taken into
    account (one row, pk 1)."""

    purchase_id = models.BigIntegerField(default=0)
    return_id = models.BigIntegerField(default=0)
    entry_id = models.BigIntegerField(default=0)
    member_id = models.BigIntegerField(default=0)
    # Audit events of members' changes (status, home store) the cohort cells
    # have taken into account.
    audit_id = models.BigIntegerField(default=0)
    ran_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"rollups up to purchase {self.purchase_id}"


# The months a member's chain of purchase months starts before and ends after.
NO_MONTH_BEFORE = date(1970, 1, 1)
NO_MONTH_AFTER = date(9999, 12, 1)


class BuyerCell(models.Model):
    """Member-months counted by where they sit in each member's chain of
    months with a purchase, so that distinct buyers over any run of months
    are a sum of cells rather than a count over members (analytics.kpis).

    A cell is (`store_key`: a store's id, 0 for every store; `month`; the
    member's previous month with a purchase before it, `prev_month`, and next
    after it, `next_month`, NO_MONTH_BEFORE / NO_MONTH_AFTER when none;
    `single`: one purchase that month), with how many member-months fall in
    it and their purchases and net amount. Over months a..b: the buyers are
    the cells with prev_month < a; those who bought once, also next_month > b
    and single; those also in the months a'..a-1 before, a' <= prev_month < a.
    A chain at one store counts only that store's months."""

    store_key = models.BigIntegerField()
    month = models.DateField()
    prev_month = models.DateField()
    next_month = models.DateField()
    single = models.BooleanField()
    members = models.BigIntegerField(default=0)
    purchases = models.BigIntegerField(default=0)
    amount = models.DecimalField(**ROLLUP_MONEY, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["store_key", "month", "prev_month", "next_month", "single"],
                name="buyer_cell_unique",
            ),
        ]
        # The cells a refresh emptied, found without reading the others.
        indexes = [
            models.Index(fields=["store_key"], condition=Q(members=0), name="buyer_cell_empty_idx")
        ]

    def __str__(self) -> str:
        return (
            f"{self.store_key} {self.month} <{self.prev_month} >{self.next_month}: {self.members}"
        )


class ActiveCell(models.Model):
    """Member-days counted by the member's previous day with a purchase
    (`prev_day`, NO_MONTH_BEFORE when none), across stores (`store_key` 0)
    and at each store: the members who bought in any run of days s..e are
    the cells of those days whose `prev_day` is before s (analytics.kpis,
    active members). A day counts when one of its sales was not returned in
    full, as MemberMonth counts purchases."""

    store_key = models.BigIntegerField()
    day = models.DateField()
    prev_day = models.DateField()
    members = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["store_key", "day", "prev_day"], name="active_cell_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["store_key"], condition=Q(members=0), name="active_cell_empty_idx")
        ]

    def __str__(self) -> str:
        return f"{self.store_key} {self.day}: {self.members}"


class CohortDay(models.Model):
    """The members (not deleted) who joined on one local day, across stores
    (`store_key` 0) and by their home store: the sizes of the cohort heat
    map's rows (analytics.kpis.cohort_retention)."""

    store_key = models.BigIntegerField()
    joined = models.DateField()
    members = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store_key", "joined"], name="cohort_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.store_key} {self.joined}: {self.members}"


class CohortCell(models.Model):
    """The members (not deleted) who joined on a local day (`joined`) and
    bought in a month (`month`, its first day): across stores (`store_key`
    0: a purchase at any store) and by home store (`store_key` a store's id:
    members of that home store who bought at it), so that the cohort heat map
    is a sum over cells rather than a distinct count over members. A month
    counts when one of its sales was not returned in full, as MemberMonth
    counts purchases. Days, not months, of joining: a period that ends
    mid-month counts its last cohort up to its end."""

    store_key = models.BigIntegerField()
    joined = models.DateField()
    month = models.DateField()
    members = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["store_key", "joined", "month"], name="cohort_cell_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["store_key"], condition=Q(members=0), name="cohort_cell_empty_idx"
            ),
            # The rows of the members who joined on the days a refresh rewrites.
            models.Index(fields=["joined"], name="cohort_cell_joined_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.store_key} {self.joined} {self.month}: {self.members}"
