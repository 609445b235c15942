"""Reads of surveys and feedback: the survey settings, NPS and CSAT over a
period (and store) with their trend, the responses and their CSV export, the
service-recovery queue and what following detractors up changes.

The figures (docs/analytics.md, "NPS and CSAT", "Service recovery"):

- NPS = % promoters (9–10) - % detractors (0–6) of the NPS answers in the
  period, from -100 to 100, to one decimal. A score of 0 is an answer, the
  lowest: every count here compares scores (`score__lte`), never tests them
  for truth.
- CSAT = the share of CSAT answers of 4 or 5, a fraction from 0 to 1.
- None, not 0, when the period has no answer: there is no score to show.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from analytics.models import (
    DETRACTOR_MAX,
    Feedback,
    FollowUp,
    FollowUpStatus,
    SurveyKind,
    SurveySettings,
)
from loyalty.models import Store, User
from loyalty.roles import is_manager
from purchases.models import Purchase

PROMOTER_MIN = 9  # NPS 9–10
SATISFIED_MIN = 4  # CSAT 4–5
NPS_PLACES = Decimal("0.1")
CSAT_PLACES = Decimal("0.0001")
# Retention of followed-up detractors: a purchase within this many days of their answer.
RETENTION_DAYS_DEFAULT = 60
RETENTION_DAYS_MIN = 7
RETENTION_DAYS_MAX = 365
# The follow-ups the comparison reads: those of the last year.
COMPARISON_SINCE = timedelta(days=365)

DEFAULT_QUESTIONS = {
    SurveyKind.NPS: _("How likely are you to recommend us to a friend or colleague?"),
    SurveyKind.CSAT: _("How satisfied were you with your visit?"),
}


# --- Settings ------------------------------------------------------------------------------------


def survey_settings_get(*, kind: str) -> SurveySettings:
    """The settings of survey `kind`: its row, else the defaults (not saved;
    invitations off, the default question in English and Malay)."""
    found = SurveySettings.objects.filter(kind=kind).first()
    if found is not None:
        return found
    question = DEFAULT_QUESTIONS[SurveyKind(kind)]
    with translation.override("en"):
        english = str(question)
    with translation.override("ms"):
        malay = str(question)
    defaults = SurveySettings(kind=kind, question_en=english, question_ms=malay)
    if kind == SurveyKind.NPS:
        # How likely one is to recommend changes slowly: ask it less often.
        defaults.cooldown_days = 90
    return defaults


def survey_settings_all() -> list[SurveySettings]:
    return [survey_settings_get(kind=kind) for kind in SurveyKind.values]


# --- NPS and CSAT --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackFigure:
    """One kind's answers in a period. NPS: `high` promoters, `middle`
    passives, `low` detractors; CSAT: `high` satisfied (4–5), `middle` 3,
    `low` dissatisfied (1–2). `score`: NPS from -100 to 100, CSAT 0 to 1,
    None without answers."""

    kind: str
    responses: int = 0
    high: int = 0
    middle: int = 0
    low: int = 0

    @property
    def score(self) -> Decimal | None:
        if not self.responses:
            return None
        if self.kind == SurveyKind.NPS:
            points = Decimal(100 * (self.high - self.low)) / self.responses
            return points.quantize(NPS_PLACES, rounding=ROUND_HALF_UP)
        return (Decimal(self.high) / self.responses).quantize(CSAT_PLACES, rounding=ROUND_HALF_UP)

    @property
    def score_percent(self) -> Decimal | None:
        """The score as pages show it: NPS as is, CSAT as a percentage."""
        score = self.score
        if score is None or self.kind == SurveyKind.NPS:
            return score
        return (score * 100).quantize(NPS_PLACES, rounding=ROUND_HALF_UP)

    def share(self, count: int) -> Decimal | None:
        """`count` as a percentage of the answers (one decimal)."""
        if not self.responses:
            return None
        return (Decimal(100 * count) / self.responses).quantize(NPS_PLACES, rounding=ROUND_HALF_UP)

    @property
    def high_percent(self) -> Decimal | None:
        return self.share(self.high)

    @property
    def middle_percent(self) -> Decimal | None:
        return self.share(self.middle)

    @property
    def low_percent(self) -> Decimal | None:
        return self.share(self.low)


def _bands(kind: str) -> dict[str, Any]:
    """The counts of a figure, as aggregates over answers of `kind`."""
    high = PROMOTER_MIN if kind == SurveyKind.NPS else SATISFIED_MIN
    low = DETRACTOR_MAX[kind]
    return {
        "responses": Count("pk"),
        "high": Count("pk", filter=Q(score__gte=high)),
        "middle": Count("pk", filter=Q(score__gt=low, score__lt=high)),
        "low": Count("pk", filter=Q(score__lte=low)),
    }


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The local days `start` to `end` (both included) as [from, to) times."""
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def feedback_in_period(
    *, start: date, end: date, store: Store | None = None, kind: str | None = None
) -> QuerySet[Feedback]:
    """The answers given on the local days `start` to `end`, at `store` (None: all)."""
    since, until = period_bounds(start, end)
    answers = Feedback.objects.filter(created_at__gte=since, created_at__lt=until)
    if store is not None:
        answers = answers.filter(store=store)
    if kind is not None:
        answers = answers.filter(kind=kind)
    return answers


def feedback_figure(
    *, kind: str, start: date, end: date, store: Store | None = None
) -> FeedbackFigure:
    """NPS or CSAT over the local days `start` to `end` (at `store`): one query."""
    counts = feedback_in_period(start=start, end=end, store=store, kind=kind).aggregate(
        **_bands(kind)
    )
    return FeedbackFigure(kind=kind, **counts)


def feedback_summary(*, start: date, end: date, store: Store | None = None) -> dict[str, Any]:
    """The `nps` and `csat` of GET /analytics/summary: `{"score", "responses"}`
    each, NPS -100..100 and CSAT a fraction (strings, as money is), score null
    without answers."""
    summary = {}
    for kind in SurveyKind.values:
        figure = feedback_figure(kind=kind, start=start, end=end, store=store)
        score = figure.score
        summary[kind] = {
            "score": str(score) if score is not None else None,
            "responses": figure.responses,
        }
    return summary


@dataclass(frozen=True)
class TrendPoint:
    start: date
    figure: FeedbackFigure


def feedback_trend(
    *, kind: str, start: date, end: date, store: Store | None = None, period: str = "week"
) -> list[TrendPoint]:
    """NPS or CSAT a week (from Monday) or a month of the local days `start`
    to `end`, oldest first, each period with answers (one query)."""
    trunc = TruncMonth if period == "month" else TruncWeek
    rows = (
        feedback_in_period(start=start, end=end, store=store, kind=kind)
        .annotate(bucket=trunc("created_at", tzinfo=timezone.get_current_timezone()))
        .values("bucket")
        .annotate(**_bands(kind))
        .order_by("bucket")
    )
    points = []
    for row in rows:
        bucket = row.pop("bucket")
        day = bucket.date() if isinstance(bucket, datetime) else bucket
        points.append(TrendPoint(start=day, figure=FeedbackFigure(kind=kind, **row)))
    return points


# --- Responses and their export ---------------------------------------------------------------


def feedback_list(
    *, start: date, end: date, store: Store | None = None, kind: str | None = None
) -> QuerySet[Feedback]:
    """The answers of the period, newest first, with what a list shows."""
    return (
        feedback_in_period(start=start, end=end, store=store, kind=kind)
        .select_related("member", "store", "purchase", "follow_up")
        .order_by("-created_at", "-id")
    )


EXPORT_HEADER = [
    "id",
    "created_at",
    "kind",
    "score",
    "band",
    "comment",
    "member_id",
    "store",
    "purchase_id",
    "purchase_reference",
    "source",
    "follow_up",
]


def _band(feedback: Feedback) -> str:
    high = PROMOTER_MIN if feedback.kind == SurveyKind.NPS else SATISFIED_MIN
    if feedback.score >= high:
        return "promoter" if feedback.kind == SurveyKind.NPS else "satisfied"
    if feedback.score <= DETRACTOR_MAX[feedback.kind]:
        return "detractor" if feedback.kind == SurveyKind.NPS else "dissatisfied"
    return "passive" if feedback.kind == SurveyKind.NPS else "neutral"


def feedback_export_rows(
    *, start: date, end: date, store: Store | None = None, kind: str | None = None
) -> Iterator[list[Any]]:
    """The header, then one row an answer, oldest first (for
    loyalty.csv_files.csv_download). The score is written as the number it is:
    a 0 is "0", never an empty cell. `follow_up`: the follow-up's status, or
    empty when the answer is not in the queue."""
    yield EXPORT_HEADER
    answers = (
        feedback_in_period(start=start, end=end, store=store, kind=kind)
        .select_related("member", "store", "purchase", "follow_up")
        .order_by("created_at", "id")
    )
    for answer in answers.iterator(chunk_size=2000):
        follow_up = getattr(answer, "follow_up", None)
        yield [
            answer.pk,
            timezone.localtime(answer.created_at).isoformat(),
            answer.kind,
            str(answer.score),
            _band(answer),
            answer.comment,
            answer.member.public_id if answer.member else "",
            answer.store.code if answer.store else "",
            answer.purchase_id or "",
            answer.purchase.reference if answer.purchase else "",
            answer.source,
            follow_up.status if follow_up is not None else "",
        ]


# --- The service-recovery queue ---------------------------------------------------------------


def follow_up_store_scope(user: User) -> Store | None:
    """The one store whose follow-ups `user` works on, or None for all: a
    store-staff account given a store sees that store's; managers (and
    accounts without a store) see every store's."""
    if is_manager(user) or user.is_superuser:
        return None
    return user.store


def follow_ups_visible(*, user: User) -> QuerySet[FollowUp]:
    """The follow-ups `user` may open, with what the queue shows."""
    follow_ups = FollowUp.objects.select_related(
        "feedback", "member", "store", "feedback__purchase", "closed_by"
    )
    scope = follow_up_store_scope(user)
    return follow_ups.filter(store=scope) if scope is not None else follow_ups


FOLLOW_UP_TABS = ("open", "overdue", "closed")


def follow_ups_tab(
    follow_ups: QuerySet[FollowUp], *, tab: str, now: datetime
) -> QuerySet[FollowUp]:
    """A tab of the queue: `open` (overdue ones included, soonest due first),
    `overdue` (open past their deadline), `closed` (latest first)."""
    if tab == "closed":
        return follow_ups.filter(status=FollowUpStatus.CLOSED).order_by("-closed_at", "-id")
    open_ones = follow_ups.filter(status=FollowUpStatus.OPEN).order_by("due_at", "id")
    return open_ones.filter(due_at__lte=now) if tab == "overdue" else open_ones


def follow_up_counts(follow_ups: QuerySet[FollowUp], *, now: datetime) -> dict[str, int]:
    """How many follow-ups each tab holds (one query)."""
    return follow_ups.aggregate(
        open=Count("pk", filter=Q(status=FollowUpStatus.OPEN)),
        overdue=Count("pk", filter=Q(status=FollowUpStatus.OPEN, due_at__lte=now)),
        closed=Count("pk", filter=Q(status=FollowUpStatus.CLOSED)),
    )


@dataclass
class RecoveryGroup:
    """Detractors of one group: how many, the NPS of their next NPS answer
    after the poor one (`later` counts those who gave one), and how many of
    those whose retention window has ended bought again within it."""

    detractors: int = 0
    later: FeedbackFigure = field(default_factory=lambda: FeedbackFigure(kind=SurveyKind.NPS))
    retention_sample: int = 0
    retained: int = 0

    @property
    def retention_percent(self) -> Decimal | None:
        if not self.retention_sample:
            return None
        return (Decimal(100 * self.retained) / self.retention_sample).quantize(
            NPS_PLACES, rounding=ROUND_HALF_UP
        )


@dataclass(frozen=True)
class RecoveryComparison:
    followed_up: RecoveryGroup
    not_followed_up: RecoveryGroup
    retention_days: int


def follow_up_comparison(
    follow_ups: QuerySet[FollowUp], *, now: datetime, retention_days: int = RETENTION_DAYS_DEFAULT
) -> RecoveryComparison:
    """Followed-up detractors (their follow-up closed) against those not
    followed up (open past the deadline), over the follow-ups of the last
    year: the NPS of each one's next NPS answer after the poor one, and the
    share who bought again within `retention_days` of it, among those whose
    window has ended by `now`. Open follow-ups still within their deadline
    are in neither group. One query."""
    answered_at = OuterRef("feedback__created_at")
    later_score = (
        Feedback.objects.filter(
            member_id=OuterRef("member_id"), kind=SurveyKind.NPS, created_at__gt=answered_at
        )
        .order_by("created_at", "id")
        .values("score")[:1]
    )
    window_end = ExpressionWrapper(
        answered_at + timedelta(days=retention_days), output_field=DateTimeField()
    )
    bought_again = Purchase.objects.filter(
        member_id=OuterRef("member_id"), occurred_at__gt=answered_at, occurred_at__lte=window_end
    )
    rows = (
        follow_ups.filter(created_at__gte=now - COMPARISON_SINCE)
        .filter(Q(status=FollowUpStatus.CLOSED) | Q(due_at__lte=now))
        .annotate(
            later_score=Subquery(later_score, output_field=IntegerField()),
            bought_again=Exists(bought_again),
        )
        .values_list("status", "feedback__created_at", "later_score", "bought_again")
        .order_by()
    )
    groups = {FollowUpStatus.CLOSED: _GroupCounts(), FollowUpStatus.OPEN: _GroupCounts()}
    window = timedelta(days=retention_days)
    for status, answered, later, bought in rows:
        counts = groups[status]
        counts.detractors += 1
        if later is not None:
            counts.later_scores.append(later)
        if answered + window <= now:
            counts.retention_sample += 1
            counts.retained += bool(bought)
    return RecoveryComparison(
        followed_up=groups[FollowUpStatus.CLOSED].group(),
        not_followed_up=groups[FollowUpStatus.OPEN].group(),
        retention_days=retention_days,
    )


@dataclass
class _GroupCounts:
    detractors: int = 0
    later_scores: list[int] = field(default_factory=list)
    retention_sample: int = 0
    retained: int = 0

    def group(self) -> RecoveryGroup:
        scores = self.later_scores
        later = FeedbackFigure(
            kind=SurveyKind.NPS,
            responses=len(scores),
            high=sum(score >= PROMOTER_MIN for score in scores),
            middle=sum(DETRACTOR_MAX[SurveyKind.NPS] < score < PROMOTER_MIN for score in scores),
            low=sum(score <= DETRACTOR_MAX[SurveyKind.NPS] for score in scores),
        )
        return RecoveryGroup(
            detractors=self.detractors,
            later=later,
            retention_sample=self.retention_sample,
            retained=self.retained,
        )
