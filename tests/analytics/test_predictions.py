"""Predictions (analytics.predictions): the history read from members'
activity, the nightly job, the segment fields, privacy, expected breakage."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.core.management import call_command

from analytics.models import MemberPrediction, PredictionFit
from analytics.predictions import (
    at_risk_rules,
    member_prediction_export,
    members_at_risk,
    points_expected_breakage,
    predictions_refresh,
    purchase_summary_read,
    summary_from_days,
)
from loyalty.actors import Actor
from loyalty.jobs import job_run
from members.models import EntryKind, MemberActivity, MemberStatus, PointsEntry
from members.segments import segment_rules_clean, segment_rules_queryset
from members.services import member_update
from tests.analytics.factories import bought
from tests.factories import MemberFactory

KL = ZoneInfo("Asia/Kuala_Lumpur")
AS_OF = datetime(2026, 6, 1, tzinfo=KL)
START = datetime(2025, 1, 1, 10, 0, tzinfo=KL)


def activity(member, day: int, spend: str, source_type: str = "purchase", hour: int = 0) -> None:
    MemberActivity.objects.create(
        member=member,
        occurred_at=START + timedelta(days=day, hours=hour),
        spend=Decimal(spend),
        points=0,
        source_type=source_type,
        source_id=f"{member.pk}-{day}-{hour}-{source_type}",
    )


@pytest.fixture
def history(db):
    """40 members with purchase days drawn from a BG/NBD process (spend from
    Gamma-Gamma), one one-time buyer and one member who never bought."""
    from analytics import clv

    rng = np.random.default_rng(13)
    T = rng.integers(60, 500, size=40).astype(float)
    x, t_x = clv.bgnbd_simulate(r=2.0, alpha=40.0, a=1.0, b=3.0, T=T, rng=rng)
    members = []
    for i in range(40):
        member = MemberFactory(user=None, email=f"h{i}@example.com")
        first = int(517 - T[i])  # AS_OF is day 516 after START's day
        activity(member, first, "30.00")
        times = np.sort(rng.uniform(0, t_x[i], size=max(int(x[i]) - 1, 0)))
        for offset in {*np.floor(times).astype(int).tolist(), int(t_x[i])} if x[i] else ():
            if offset > 0:
                activity(member, first + offset, f"{rng.gamma(6, 5):.2f}")
        members.append(member)
    once = MemberFactory(user=None, email="once@example.com")
    activity(once, 100, "45.00")
    never = MemberFactory(user=None, email="never@example.com")
    return {"members": members, "once": once, "never": never}


def test_summary_counts_days_nets_returns_and_ignores_days_without_a_sale(db):
    member = MemberFactory(user=None, email="a@example.com")
    activity(member, 0, "10.00")
    activity(member, 5, "20.00")
    activity(member, 5, "30.00", hour=3)  # the same day: one purchase of 50.00
    activity(member, 5, "-15.00", source_type="return")  # a return of that day's sale
    activity(member, 9, "-5.00", source_type="adjust")  # no sale that day: not a purchase
    activity(member, 20, "40.00")
    activity(member, 600, "99.00")  # after as_of
    summary = purchase_summary_read(as_of=AS_OF)
    assert summary.member_ids.tolist() == [member.pk]
    assert summary.x.tolist() == [2.0]
    assert summary.t_x.tolist() == [20.0]
    assert summary.T.tolist() == [516.0]
    assert summary.repeat_value.tolist() == [pytest.approx((35.0 + 40.0) / 2)]


def test_summary_reads_sales_recorded_through_the_till(program, shopper):
    store = program.main_store
    bought(shopper, store, at=START, amount="12.00")
    bought(shopper, store, at=START + timedelta(days=3), amount="8.00")
    summary = purchase_summary_read(as_of=AS_OF)
    assert summary.x.tolist() == [1.0] and summary.t_x.tolist() == [3.0]


def test_a_deleted_members_history_is_left_out(db):
    member = MemberFactory(user=None, email="d@example.com")
    activity(member, 0, "10.00")
    member_update(actor=Actor.system(), member=member, status=MemberStatus.DELETED)
    assert purchase_summary_read(as_of=AS_OF).member_ids.size == 0


def test_summary_from_days_of_nobody_is_empty():
    empty = np.zeros(0, dtype=np.int64)
    summary = summary_from_days(member_ids=empty, days=empty, spend=np.zeros(0), as_of_day=9)
    assert summary.x.size == 0


def test_the_job_stores_the_fit_and_every_buyers_prediction(history):
    summary = job_run("predictions", as_of=AS_OF + timedelta(hours=4))
    fit = PredictionFit.objects.get()
    assert fit.fitted_at == AS_OF  # midnight of the day it runs
    assert fit.customers == 41 and fit.r > 0 and fit.alpha > 0 and fit.a > 0 and fit.b > 0
    assert fit.log_likelihood < 0
    assert "41 members predicted" in summary
    predictions = {p.member_id: p for p in MemberPrediction.objects.all()}
    assert len(predictions) == 41
    assert history["never"].pk not in predictions
    once = predictions[history["once"].pk]
    assert once.churn_risk == 0.0  # BG/NBD: no repeat purchase, no drop-out yet
    assert once.purchases == 1 and once.expected_purchases > 0
    for prediction in predictions.values():
        assert 0 <= prediction.churn_risk <= 1
        expected = Decimal(prediction.expected_purchases) * prediction.expected_spend
        assert abs(prediction.predicted_value - expected) <= Decimal("0.05")


def test_running_the_job_twice_for_the_same_time_changes_nothing(history):
    job_run("predictions", as_of=AS_OF)
    fits = list(PredictionFit.objects.values())
    rows = sorted(MemberPrediction.objects.values_list(), key=lambda row: row[0])
    job_run("predictions", as_of=AS_OF + timedelta(hours=5))  # the same day
    assert list(PredictionFit.objects.values()) == fits
    assert sorted(MemberPrediction.objects.values_list(), key=lambda row: row[0]) == rows


def test_a_later_fit_replaces_predictions_and_drops_deleted_members(history):
    predictions_refresh(as_of=AS_OF)
    gone = history["members"][0]
    member_update(actor=Actor.system(), member=gone, status=MemberStatus.DELETED)
    assert not MemberPrediction.objects.filter(member=gone).exists()
    later = AS_OF + timedelta(days=7)
    predictions_refresh(as_of=later)
    assert PredictionFit.objects.count() == 2
    assert set(MemberPrediction.objects.values_list("fit__fitted_at", flat=True)) == {later}
    # A run for an earlier time stores its fit and leaves the latest predictions alone.
    predictions_refresh(as_of=AS_OF - timedelta(days=1))
    assert set(MemberPrediction.objects.values_list("fit__fitted_at", flat=True)) == {later}


def test_too_little_history_stores_nothing(db):
    member = MemberFactory(user=None, email="x@example.com")
    activity(member, 0, "10.00")
    assert "too little history" in predictions_refresh(as_of=AS_OF)
    assert not PredictionFit.objects.exists()


def test_clv_fit_prints_the_parameters_as_json_and_writes_nothing(history, capsys):
    import json

    call_command("clv_fit", "--as-of", "2026-05-31", "--period", "week")
    printed = json.loads(capsys.readouterr().out)
    assert printed["customers"] == 41 and printed["period"] == "week"
    assert set(printed["bgnbd"]) >= {"r", "alpha", "a", "b", "log_likelihood"}
    assert set(printed["gamma_gamma"]) >= {"p", "q", "v"}
    assert printed["as_of"].startswith("2026-06-01T00:00:00")  # the date's day included
    assert not PredictionFit.objects.exists()


def test_segment_fields_churn_risk_and_predicted_value_filter_on_predictions(history):
    predictions_refresh(as_of=AS_OF)
    rules = segment_rules_clean(
        {
            "all": [
                {"field": "churn_risk", "op": "gte", "value": 30},
                {"field": "predicted_value", "op": "lt", "value": "1000000.00"},
            ]
        }
    )
    matched = set(segment_rules_queryset(rules=rules).values_list("id", flat=True))
    expected = set(
        MemberPrediction.objects.filter(churn_risk__gte=0.3).values_list("member_id", flat=True)
    )
    assert matched == expected and matched
    assert history["never"].pk not in matched


def test_segment_rules_refuse_a_churn_risk_over_100(db):
    from loyalty.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        segment_rules_clean({"all": [{"field": "churn_risk", "op": "gte", "value": 101}]})


def test_at_risk_members_have_high_risk_and_high_predicted_or_historical_value(history):
    predictions_refresh(as_of=AS_OF)
    rules = at_risk_rules(risk_percent=40, value_min=Decimal("50.00"))
    listed = list(members_at_risk(rules=rules))
    assert listed
    for member in listed:
        assert member.prediction.churn_risk >= 0.4
        assert max(member.prediction.predicted_value, member.account.lifetime_spend) >= 50
    values = [member.prediction.predicted_value for member in listed]
    assert values == sorted(values, reverse=True)


def test_privacy_export_includes_the_prediction_and_deletion_removes_it(history):
    predictions_refresh(as_of=AS_OF)
    member = history["once"]
    exported = member_prediction_export(member=member)
    assert exported["churn_risk"] == 0.0
    assert datetime.fromisoformat(exported["predicted_at"]) == AS_OF
    assert exported["purchase_days"] == 1
    assert member_prediction_export(member=history["never"]) is None
    member_update(actor=Actor.system(), member=member, status=MemberStatus.DELETED)
    assert member_prediction_export(member=member) is None


def entry(member, kind: str, points: int, at: datetime) -> None:
    PointsEntry.objects.create(
        member=member, kind=kind, status="available", points=points, balance_after=0, created_at=at
    )


def test_expected_breakage_is_the_share_of_points_that_left_by_expiry(db):
    member = MemberFactory(user=None, email="b@example.com")
    assert points_expected_breakage(as_of=AS_OF).rate is None  # no history yet
    entry(member, EntryKind.EARN, 1000, START)
    entry(member, EntryKind.REDEEM, -700, START + timedelta(days=10))
    entry(member, EntryKind.REFUND, 100, START + timedelta(days=11))  # a redemption undone
    entry(member, EntryKind.EXPIRE, -200, START + timedelta(days=400))
    entry(member, EntryKind.CLAWBACK, -50, START + timedelta(days=20))  # a correction
    entry(member, EntryKind.EXPIRE, -999, AS_OF + timedelta(days=1))  # after as_of
    breakage = points_expected_breakage(as_of=AS_OF)
    assert (breakage.redeemed, breakage.expired) == (600, 200)
    assert breakage.rate == Decimal("0.2500")  # 200 / (600 + 200)


@pytest.mark.postgres
def test_postgres_binary_copy_reads_the_same_history_as_the_orm(history):
    """The fast read of PostgreSQL (binary COPY into numpy) and the ORM's give
    the same rows, so the same summary."""
    from analytics import predictions

    deleted = history["members"][1]
    member_update(actor=Actor.system(), member=deleted, status=MemberStatus.DELETED)
    fast = predictions._rows_postgres(AS_OF)
    plain = predictions._rows_orm(AS_OF)
    order_fast, order_plain = np.lexsort(fast[:2]), np.lexsort(plain[:2])
    for a, b in zip(fast, plain, strict=True):
        assert np.array_equal(a[order_fast], b[order_plain])
    assert deleted.pk not in fast[0] and fast[0].size > 40


def test_local_days_follow_the_program_time_zone():
    from analytics.predictions import local_days

    # 23:59 on 1 January in Kuala Lumpur (15:59 UTC), then a minute later: the 2nd.
    base = datetime(2026, 1, 1, 23, 59, tzinfo=KL).timestamp()
    days = local_days(np.array([base, base + 60]))
    assert days.tolist() == [20454, 20455]  # 2026-01-01 and 2026-01-02 since 1970-01-01
