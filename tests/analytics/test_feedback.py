"""NPS and CSAT as analytics.feedback computes them, worked out by hand here:
NPS = % promoters (9–10) - % detractors (0–6), CSAT = share of 4–5; a 0 is
an answer everywhere, the CSV export included; the comparison of
followed-up detractors with those not followed up."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from analytics.feedback import (
    FeedbackFigure,
    feedback_export_rows,
    feedback_figure,
    feedback_summary,
    feedback_trend,
    follow_up_comparison,
)
from analytics.models import FollowUp, SurveyKind
from analytics.recovery import follow_up_save
from loyalty.actors import Actor
from loyalty.csv_files import csv_lines
from tests.analytics.factories import answer, bought
from tests.factories import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db

NPS, CSAT = SurveyKind.NPS, SurveyKind.CSAT


def today_range() -> tuple:
    today = timezone.localdate()
    return today - timedelta(days=30), today


def test_nps_of_ten_answers_is_the_promoters_share_less_the_detractors_share(program):
    """10, 10, 9, 9, 9 are promoters (5 of 10: 50 %); 8 and 7 passives; 6, 3
    and 0 detractors (3 of 10: 30 %): NPS 50 - 30 = 20. Without the 0 it would
    be 5/9 - 2/9 = 33.3: the 0 is counted."""
    for score in (10, 10, 9, 9, 9, 8, 7, 6, 3, 0):
        answer(NPS, score)
    start, end = today_range()
    figure = feedback_figure(kind=NPS, start=start, end=end)
    assert (figure.responses, figure.high, figure.middle, figure.low) == (10, 5, 2, 3)
    assert figure.score == Decimal("20.0")
    assert (figure.high_percent, figure.low_percent) == (Decimal("50.0"), Decimal("30.0"))


def test_nps_rounds_to_one_decimal_and_can_be_negative(program):
    """Three answers 0, 0, 9: 1/3 - 2/3 = -33.3."""
    for score in (0, 0, 9):
        answer(NPS, score)
    start, end = today_range()
    assert feedback_figure(kind=NPS, start=start, end=end).score == Decimal("-33.3")


def test_csat_is_the_share_of_four_and_five(program):
    """5, 5, 4 of 1, 2, 3, 4, 5, 5, 1, 3: 3 of 8 satisfied, 0.375 (37.5 %)."""
    for score in (1, 2, 3, 4, 5, 5, 1, 3):
        answer(CSAT, score)
    start, end = today_range()
    figure = feedback_figure(kind=CSAT, start=start, end=end)
    assert (figure.responses, figure.high, figure.middle, figure.low) == (8, 3, 2, 3)
    assert figure.score == Decimal("0.3750")
    assert figure.score_percent == Decimal("37.5")


def test_a_period_without_answers_has_no_score_not_a_zero(program):
    start, end = today_range()
    figure = feedback_figure(kind=NPS, start=start, end=end)
    assert (figure.responses, figure.score) == (0, None)
    assert feedback_summary(start=start, end=end) == {
        "nps": {"score": None, "responses": 0},
        "csat": {"score": None, "responses": 0},
    }


def test_a_single_zero_is_an_nps_of_minus_100(program):
    answer(NPS, 0)
    start, end = today_range()
    assert feedback_summary(start=start, end=end)["nps"] == {"score": "-100.0", "responses": 1}


def test_figures_keep_to_the_period_and_the_store(program):
    bangsar, penang = StoreFactory(code="bangsar"), StoreFactory(code="penang")
    now = timezone.now()
    answer(NPS, 10, store=bangsar, at=now)
    answer(NPS, 0, store=penang, at=now)
    answer(NPS, 0, store=bangsar, at=now - timedelta(days=60))
    start, end = today_range()
    assert feedback_figure(kind=NPS, start=start, end=end, store=bangsar).score == 100
    assert feedback_figure(kind=NPS, start=start, end=end, store=penang).score == -100
    assert feedback_figure(kind=NPS, start=start, end=end).responses == 2


def test_the_trend_gives_each_week_and_month_its_own_score(program):
    """The first Monday of a month two months back and the next: 10 and 0 in
    the first week (NPS 0), 9 in the second (NPS 100); the month holds all
    three (2 promoters and 1 detractor of 3: 33.3)."""
    today = timezone.localdate()
    first_day = (today - timedelta(days=60)).replace(day=1)
    monday = first_day + timedelta(days=(7 - first_day.weekday()) % 7)
    tz = timezone.get_current_timezone()
    noon = timezone.datetime(monday.year, monday.month, monday.day, 12, tzinfo=tz)
    answer(NPS, 10, at=noon)
    answer(NPS, 0, at=noon + timedelta(days=1))
    answer(NPS, 9, at=noon + timedelta(days=7))
    weeks = feedback_trend(kind=NPS, start=first_day, end=today, period="week")
    assert [(p.start, p.figure.responses, p.figure.score) for p in weeks] == [
        (monday, 2, Decimal("0.0")),
        (monday + timedelta(days=7), 1, Decimal("100.0")),
    ]
    months = feedback_trend(kind=NPS, start=first_day, end=today, period="month")
    assert [(p.start, p.figure.responses, p.figure.score) for p in months] == [
        (first_day, 3, Decimal("33.3"))
    ]


def test_the_export_writes_a_zero_score_as_0_and_escapes_comments(program):
    member = MemberFactory()
    store = StoreFactory(code="bangsar")
    answer(NPS, 0, member=member, store=store, comment='=HYPERLINK("http://x")')
    answer(CSAT, 5)
    start, end = today_range()
    text = "".join(csv_lines(feedback_export_rows(start=start, end=end)))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["score"] for row in rows] == ["0", "5"]
    first = rows[0]
    assert first["band"] == "detractor" and first["follow_up"] == "open"
    assert first["member_id"] == member.public_id and first["store"] == "bangsar"
    assert first["comment"].startswith("'=")
    assert rows[1]["member_id"] == "" and rows[1]["follow_up"] == ""


def test_the_comparison_counts_later_nps_and_buying_again_of_each_group(program):
    """Four detractors 90 days ago, deadlines long past. Two were followed up
    (closed): one answered 9 later and bought again within 60 days, one
    answered 10 and did not buy. Two were not: one answered 7 later and bought
    again, one never answered again and bought only after 70 days. A
    detractor of yesterday, still within its deadline, is in neither group.
    Followed up: later NPS (2 promoters of 2) = 100, bought again 1 of 2.
    Not followed up: later NPS (1 passive of 1) = 0, bought again 1 of 2."""
    store = program.main_store
    now = timezone.now()
    then = now - timedelta(days=90)
    members = [MemberFactory() for _ in range(5)]
    for member in members[:4]:
        answer(NPS, 2, member=member, store=store, at=then)
    answer(NPS, 1, member=members[4], store=store, at=now - timedelta(days=1))
    for member in members[:2]:
        follow_up = FollowUp.objects.get(member=member)
        follow_up_save(
            actor=Actor.system(), follow_up=follow_up, note="Called", close=True, now=then
        )
    answer(NPS, 9, member=members[0], store=store, at=then + timedelta(days=20))
    answer(NPS, 10, member=members[1], store=store, at=then + timedelta(days=20))
    answer(NPS, 7, member=members[2], store=store, at=then + timedelta(days=20))
    bought(members[0], store, at=then + timedelta(days=10))
    bought(members[2], store, at=then + timedelta(days=30))
    bought(members[3], store, at=then + timedelta(days=70))  # after the 60 days

    comparison = follow_up_comparison(FollowUp.objects.all(), now=now, retention_days=60)
    done, not_done = comparison.followed_up, comparison.not_followed_up
    assert (done.detractors, done.later.responses, done.later.score) == (2, 2, 100)
    assert (done.retention_sample, done.retained, done.retention_percent) == (2, 1, 50)
    assert (not_done.detractors, not_done.later.responses, not_done.later.score) == (2, 1, 0)
    assert (not_done.retention_sample, not_done.retained) == (2, 1)


def test_a_detractor_whose_retention_window_has_not_ended_is_not_counted_yet(program):
    member = MemberFactory()
    now = timezone.now()
    answer(NPS, 0, member=member, store=program.main_store, at=now - timedelta(days=10))
    follow_up_save(
        actor=Actor.system(),
        follow_up=FollowUp.objects.get(member=member),
        note="Called",
        close=True,
        now=now - timedelta(days=9),
    )
    comparison = follow_up_comparison(FollowUp.objects.all(), now=now, retention_days=60)
    assert comparison.followed_up.detractors == 1
    assert comparison.followed_up.retention_sample == 0
    assert comparison.followed_up.retention_percent is None


@given(scores=st.lists(st.integers(0, 10), max_size=60))
def test_nps_is_the_promoters_share_less_the_detractors_share_for_any_answers(scores):
    """For any list of NPS scores: the figure's bands add up, the score is
    100 * (promoters - detractors) / answers rounded to one decimal, within
    -100..100, and None without answers."""
    figure = FeedbackFigure(
        kind=NPS,
        responses=len(scores),
        high=sum(s >= 9 for s in scores),
        middle=sum(7 <= s <= 8 for s in scores),
        low=sum(s <= 6 for s in scores),
    )
    assert figure.high + figure.middle + figure.low == figure.responses
    if not scores:
        assert figure.score is None
        return
    exact = Fraction(100 * (figure.high - figure.low), len(scores))
    assert -100 <= figure.score <= 100
    assert abs(Fraction(figure.score) - exact) <= Fraction(1, 20)
