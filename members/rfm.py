"""RFM: recency, frequency and monetary scores of every member who bought,
and the named class they make (docs/segments.md has the map and its reasons).

Scores are quintiles over the members who bought up to `as_of`: a member's
score on a measure is 1 + floor(5 × (rank - 1) / n), rank being their place
in ascending order of the measure (ties share the lowest place, so equal
members always get equal scores) among the n members scored. Higher is
better: recency ranks the last purchase's time (latest = 5), frequency the
number of purchases, monetary the net spend (returns subtracted). The class
comes from R and F (the classic RFM map); M is stored for rules and reports.

The job is two statements whatever the number of members: the old scores are
deleted and the new ones inserted from one INSERT … SELECT with window
functions, in one transaction (readers see the old scores until it commits).
It runs on PostgreSQL and SQLite (3.25+) alike.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction

from members.models import MemberActivity, MemberRfm, RfmClass

# (recency scores, frequency scores) → class, first match wins. Each of the
# 25 (R, F) cells belongs to exactly one class (a test checks it).
RFM_MAP: tuple[tuple[tuple[int, ...], tuple[int, ...], RfmClass], ...] = (
    ((5,), (4, 5), RfmClass.CHAMPIONS),
    ((3, 4), (4, 5), RfmClass.LOYAL),
    ((4, 5), (2, 3), RfmClass.POTENTIAL_LOYALISTS),
    ((5,), (1,), RfmClass.NEW),
    ((4,), (1,), RfmClass.PROMISING),
    ((3,), (3,), RfmClass.NEED_ATTENTION),
    ((3,), (1, 2), RfmClass.ABOUT_TO_SLEEP),
    ((1, 2), (3, 4), RfmClass.AT_RISK),
    ((1, 2), (5,), RfmClass.CANNOT_LOSE),
    ((1,), (1,), RfmClass.LOST),
    ((1, 2), (1, 2), RfmClass.HIBERNATING),
)


def rfm_class_for(recency: int, frequency: int) -> RfmClass:
    """The class of a member with these R and F scores (1–5 each)."""
    for recencies, frequencies, name in RFM_MAP:
        if recency in recencies and frequency in frequencies:
            return name
    raise ValueError(f"no class for R={recency} F={frequency}")


def _class_case() -> tuple[str, list[object]]:
    whens, params = [], []
    for recencies, frequencies, name in RFM_MAP:
        r_marks = ", ".join(["%s"] * len(recencies))
        f_marks = ", ".join(["%s"] * len(frequencies))
        whens.append(f"WHEN r IN ({r_marks}) AND f IN ({f_marks}) THEN %s")
        params.extend([*recencies, *frequencies, name.value])
    return "CASE " + " ".join(whens) + " END", params


def _score(measure: str) -> str:
    # Integer arithmetic on both databases: rank - 1 < n, so the score is 1–5.
    return f"1 + (5 * (RANK() OVER (ORDER BY {measure}) - 1)) / COUNT(*) OVER ()"


@transaction.atomic
def rfm_compute(*, as_of: datetime) -> int:
    """Score every member from their activity up to `as_of`, replacing the
    previous scores; members with no purchase by then have none. Returns the
    number of members scored. Running it twice for one `as_of` gives the same rows."""
    rfm = MemberRfm._meta.db_table
    activity = MemberActivity._meta.db_table
    case_sql, case_params = _class_case()
    sql = f"""
        INSERT INTO {rfm} (member_id, recency, frequency, monetary, rfm_class,
                           last_purchase_at, purchase_count, spend, computed_at)
        SELECT member_id, r, f, m, {case_sql}, last_at, n, spend, %s
        FROM (
            SELECT member_id, last_at, n, spend,
                   {_score("last_at")} AS r,
                   {_score("n")} AS f,
                   {_score("spend")} AS m
            FROM (
                SELECT member_id,
                       MAX(CASE WHEN source_type = %s THEN occurred_at END) AS last_at,
                       SUM(CASE WHEN source_type = %s THEN 1 ELSE 0 END) AS n,
                       SUM(spend) AS spend
                FROM {activity}
                WHERE occurred_at <= %s
                GROUP BY member_id
            ) AS totals
            WHERE n > 0
        ) AS scored
        WHERE 1 = 1
    """  # noqa: S608 - the table names are ours, every value is a parameter
    # "WHERE 1 = 1": SQLite needs a WHERE before an INSERT … SELECT's end to
    # parse it unambiguously; harmless elsewhere.
    moment = connection.ops.adapt_datetimefield_value(as_of)
    params = [*case_params, moment, "purchase", "purchase", moment]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {rfm}")  # noqa: S608 - table names are ours
        cursor.execute(sql, params)
        return cursor.rowcount
