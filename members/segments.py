"""Segments: saved rule sets over members, evaluated as querysets (DESIGN.md §5).

The rules of a segment (API.md, "Events, campaigns, segments, referrals"):

    {"all"|"any": [rule | {"all"|"any": [rule, ...]}, ...]}
    rule = {"field": <FIELDS>, "op": <the field's ops>, "value": ..., "days"?: int}

What this module guarantees:

- `segment_rules_clean` is the one gate: every write of a segment goes
  through it, and it refuses an unknown field or op, a value of the wrong
  type or out of bounds (loyalty/limits.py), an unknown tier, store or RFM
  class, an empty group, nesting deeper than `MAX_DEPTH` or more than
  `MAX_RULES` rules, naming each problem by its path ("rules.all[1].value").
  What it returns is the normal form that is stored, so a saved segment
  always evaluates (a tier or store deleted later simply matches no one).
- Evaluation is one SQL statement over `Member` (Q objects, joins and
  correlated subqueries on `MemberActivity`), on PostgreSQL and SQLite alike.
  Only active members are in a segment. A member without a value for a field
  (no purchase yet, no birthday, no home store, not yet RFM-scored) matches no
  rule on it, negative ops included; purchase counts and spend are 0 for them.
- `member_in_segments` answers for one member and several segments in one
  statement after loading the segments (two in all, none when no segment is
  asked about): cheap enough for the sale path and the rewards catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DecimalField,
    Expression,
    F,
    Func,
    Max,
    OuterRef,
    ProtectedError,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty import limits
from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.exports import EXPORT_CHUNK, export_time
from loyalty.models import Store
from loyalty.services import audit_record, snapshot
from members.errors import SegmentInUse, SegmentNotFound
from members.models import Member, MemberActivity, MemberStatus, RfmClass, Segment, Tier

# A group inside the top group, no deeper: the back-office builder can then
# show and edit every segment, whoever wrote it.
MAX_DEPTH = 2
MAX_RULES = 20
MAX_LIST = 50
TAG_MAX_LENGTH = 50
NAME_MAX_LENGTH = 120
DATE_MIN = date(2000, 1, 1)
DATE_MAX = date(2100, 12, 31)
PURCHASE = "purchase"  # MemberActivity.source_type of a sale
SEGMENT_FIELDS = ("name", "description", "rules")

# --- Fields and operators ---------------------------------------------------------------------

EQ, NE, IN, NOT_IN = "eq", "ne", "in", "not_in"
GT, GTE, LT, LTE, BETWEEN = "gt", "gte", "lt", "lte", "between"
CONTAINS, NOT_CONTAINS = "contains", "not_contains"
NUMBER_OPS = (EQ, NE, GT, GTE, LT, LTE, BETWEEN)
CODE_OPS = (EQ, NE, IN, NOT_IN)
LIST_OPS = (IN, NOT_IN)
OP_LABELS = {
    EQ: gettext_lazy("is"),
    NE: gettext_lazy("is not"),
    IN: gettext_lazy("is one of"),
    NOT_IN: gettext_lazy("is none of"),
    GT: gettext_lazy("more than"),
    GTE: gettext_lazy("at least"),
    LT: gettext_lazy("less than"),
    LTE: gettext_lazy("at most"),
    BETWEEN: gettext_lazy("between"),
    CONTAINS: gettext_lazy("has the tag"),
    NOT_CONTAINS: gettext_lazy("has not the tag"),
}


@dataclass(frozen=True)
class FieldSpec:
    """A field rules may name: its kind of value, its ops, its bounds."""

    label: Any
    kind: str  # "int", "money", "code", "bool", "date", "tag"
    ops: tuple[str, ...]
    minimum: int | Decimal | None = None
    maximum: int | Decimal | None = None
    window: bool = False  # takes "days"
    help: Any = ""


FIELDS: dict[str, FieldSpec] = {
    "tier": FieldSpec(
        gettext_lazy("Tier"), "code", CODE_OPS, help=gettext_lazy("Tier codes, e.g. gold.")
    ),
    "days_since_last_purchase": FieldSpec(
        gettext_lazy("Days since the last purchase"),
        "int",
        NUMBER_OPS,
        0,
        limits.DAYS_MAX,
        help=gettext_lazy("Whole days; members who never bought match no such rule."),
    ),
    "purchase_count": FieldSpec(
        gettext_lazy("Purchases"),
        "int",
        NUMBER_OPS,
        0,
        limits.COUNT_MAX,
        window=True,
        help=gettext_lazy("Number of purchases, in the last N days if given."),
    ),
    "spend": FieldSpec(
        gettext_lazy("Spend"),
        "money",
        NUMBER_OPS,
        Decimal("0.00"),
        limits.MONEY_MAX,
        window=True,
        help=gettext_lazy("Net of returns, in the last N days if given, e.g. 500.00."),
    ),
    "rfm_class": FieldSpec(
        gettext_lazy("RFM class"),
        "code",
        CODE_OPS,
        help=gettext_lazy("e.g. champions, at_risk (see the RFM classes below)."),
    ),
    "birth_month": FieldSpec(
        gettext_lazy("Birthday month"),
        "int",
        CODE_OPS,
        1,
        12,
        help=gettext_lazy("1 (January) to 12 (December)."),
    ),
    "home_store": FieldSpec(
        gettext_lazy("Home store"), "code", CODE_OPS, help=gettext_lazy("Store codes.")
    ),
    "tags": FieldSpec(
        gettext_lazy("Tags"),
        "tag",
        (CONTAINS, NOT_CONTAINS, IN),
        help=gettext_lazy("A tag; for 'is one of', several separated by commas."),
    ),
    "marketing_consent": FieldSpec(
        gettext_lazy("Accepts offers"), "bool", (EQ,), help=gettext_lazy("yes or no.")
    ),
    "joined_at": FieldSpec(
        gettext_lazy("Joined"),
        "date",
        (EQ, GT, GTE, LT, LTE, BETWEEN),
        help=gettext_lazy("A date as YYYY-MM-DD; 'more than' is after, 'less than' before."),
    ),
    "points_balance": FieldSpec(
        gettext_lazy("Points balance"), "int", NUMBER_OPS, 0, limits.POINTS_MAX
    ),
    # The nightly predictions (analytics.predictions); members not yet predicted match no rule.
    "churn_risk": FieldSpec(
        gettext_lazy("Churn risk (%)"),
        "int",
        NUMBER_OPS,
        0,
        100,
        help=gettext_lazy("0 to 100: the chance the member has stopped buying, as predicted."),
    ),
    "predicted_value": FieldSpec(
        gettext_lazy("Predicted 12-month value"),
        "money",
        NUMBER_OPS,
        Decimal("0.00"),
        limits.MONEY_MAX,
        help=gettext_lazy("The spend predicted for the next 12 months, e.g. 300.00."),
    ),
}


def _known_codes(field: str) -> set[str]:
    if field == "tier":
        return set(Tier.objects.values_list("code", flat=True))
    if field == "home_store":
        return set(Store.objects.values_list("code", flat=True))
    return set(RfmClass.values)


# --- Validation -------------------------------------------------------------------------------


class _Problems:
    """Messages collected by path, so one answer names every mistake."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.fields.setdefault(path, []).append(message)


def _clean_scalar(spec: FieldSpec, field: str, value: Any, codes: dict[str, set[str]]) -> Any:
    """One value of `field`'s kind in its normal form. Raises ValueError with
    the message to show."""
    if spec.kind in ("int",):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(_("Give a whole number."))
        if not spec.minimum <= value <= spec.maximum:
            raise ValueError(
                _("Give a number from %(min)s to %(max)s.")
                % {"min": spec.minimum, "max": spec.maximum}
            )
        return value
    if spec.kind == "money":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(_('Give an amount as a string, e.g. "100.00".'))
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(_('Give an amount as a string, e.g. "100.00".')) from exc
        if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
            raise ValueError(_("Give an amount with at most 2 decimal places."))
        if not spec.minimum <= amount <= spec.maximum:
            raise ValueError(
                _("Give an amount from %(min)s to %(max)s.")
                % {"min": spec.minimum, "max": spec.maximum}
            )
        return str(amount.quantize(Decimal("0.01")))
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(_("Give true or false."))
        return value
    if spec.kind == "date":
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(_("Give a date as YYYY-MM-DD."))
        try:
            day = date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(_("Give a date as YYYY-MM-DD.")) from exc
        if not DATE_MIN <= day <= DATE_MAX:
            raise ValueError(_("Give a date from 2000 to 2100."))
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError(_("Give a text value."))
    text = value.strip()
    problem = limits.text_problem(text)
    if problem:
        raise ValueError(problem)
    if spec.kind == "tag":
        if len(text) > TAG_MAX_LENGTH:
            raise ValueError(
                _("Use at most %(max)s characters for a tag.") % {"max": TAG_MAX_LENGTH}
            )
        return text
    if field not in codes:
        codes[field] = _known_codes(field)
    if text not in codes[field]:
        raise ValueError(_("Unknown code: %(code)s.") % {"code": text[:40]})
    return text


def _clean_rule(
    rule: dict[str, Any], path: str, problems: _Problems, codes: dict[str, set[str]]
) -> dict[str, Any] | None:
    field, op = rule.get("field"), rule.get("op")
    extra = set(rule) - {"field", "op", "value", "days"}
    if extra:
        problems.add(path, _("Unknown keys: %(keys)s.") % {"keys": ", ".join(sorted(extra))[:80]})
        return None
    if not isinstance(field, str) or field not in FIELDS:
        problems.add(
            f"{path}.field",
            _("Unknown field; use one of: %(fields)s.") % {"fields": ", ".join(FIELDS)},
        )
        return None
    spec = FIELDS[field]
    if not isinstance(op, str) or op not in spec.ops:
        problems.add(
            f"{path}.op",
            _("This field takes the ops: %(ops)s.") % {"ops": ", ".join(spec.ops)},
        )
        return None
    if "value" not in rule:
        problems.add(f"{path}.value", _("Give a value."))
        return None
    value = rule["value"]
    cleaned: dict[str, Any] = {"field": field, "op": op}
    try:
        if op in (IN, NOT_IN) or op == BETWEEN:
            if not isinstance(value, list) or not value:
                raise ValueError(_("Give a list of values."))
            if op == BETWEEN and len(value) != 2:
                raise ValueError(_("Give two values, the lowest first."))
            if len(value) > MAX_LIST:
                raise ValueError(_("Give at most %(max)s values.") % {"max": MAX_LIST})
            items = [_clean_scalar(spec, field, item, codes) for item in value]
            if op == BETWEEN:
                low, high = (Decimal(i) if spec.kind == "money" else i for i in items)
                if low > high:
                    raise ValueError(_("Give two values, the lowest first."))
                cleaned["value"] = items
            else:
                cleaned["value"] = list(dict.fromkeys(items))
        else:
            cleaned["value"] = _clean_scalar(spec, field, value, codes)
    except ValueError as error:
        problems.add(f"{path}.value", str(error))
        return None
    if "days" in rule and rule["days"] is not None:
        days = rule["days"]
        if not spec.window:
            problems.add(f"{path}.days", _("Only purchases and spend take a number of days."))
            return None
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= limits.DAYS_MAX:
            problems.add(
                f"{path}.days",
                _("Give a number from %(min)s to %(max)s.") % {"min": 1, "max": limits.DAYS_MAX},
            )
            return None
        cleaned["days"] = days
    return cleaned


def _clean_group(
    group: Any,
    path: str,
    depth: int,
    problems: _Problems,
    codes: dict[str, set[str]],
    counter: list[int],
) -> dict[str, Any] | None:
    if not isinstance(group, dict) or len(group) != 1 or next(iter(group)) not in ("all", "any"):
        problems.add(path, _('A group is {"all": [...]} or {"any": [...]}.'))
        return None
    ((match, items),) = group.items()
    if not isinstance(items, list) or not items:
        problems.add(f"{path}.{match}", _("Give a list of at least one rule."))
        return None
    cleaned_items = []
    for index, item in enumerate(items):
        item_path = f"{path}.{match}[{index}]"
        if isinstance(item, dict) and ("all" in item or "any" in item) and "field" not in item:
            if depth >= MAX_DEPTH:
                problems.add(
                    item_path,
                    _("Groups nest at most %(depth)s levels deep.") % {"depth": MAX_DEPTH},
                )
                continue
            cleaned = _clean_group(item, item_path, depth + 1, problems, codes, counter)
        elif isinstance(item, dict):
            counter[0] += 1
            cleaned = _clean_rule(item, item_path, problems, codes)
        else:
            problems.add(item_path, _("A rule is an object with field, op and value."))
            continue
        if cleaned is not None:
            cleaned_items.append(cleaned)
    return {match: cleaned_items}


def segment_rules_clean(rules: Any) -> dict[str, Any]:
    """The normal form of `rules`, checked strictly (see the module's
    docstring). Raises ValidationFailed with the problems by path, each
    starting with "rules"."""
    problems = _Problems()
    counter = [0]
    cleaned = _clean_group(rules, "rules", 1, problems, {}, counter)
    if counter[0] > MAX_RULES:
        problems.add("rules", _("Use at most %(max)s rules.") % {"max": MAX_RULES})
    if problems.fields or cleaned is None:
        raise ValidationFailed(fields=problems.fields)
    return cleaned


# --- Evaluation -------------------------------------------------------------------------------


class JsonListHas(Func):
    """True when the JSON list in the column holds the text `value`: PostgreSQL's
    jsonb containment (index-friendly), SQLite's json_each elsewhere."""

    output_field = BooleanField()

    def __init__(self, column: str, value: str) -> None:
        super().__init__(F(column))
        self.value = value

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.source_expressions[0])
        sql = f"EXISTS (SELECT 1 FROM json_each({column}) AS tag WHERE tag.value = %s)"  # noqa: S608
        return sql, [*params, self.value]

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        import json

        column, params = compiler.compile(self.source_expressions[0])
        return f"({column} @> %s::jsonb)", [*params, json.dumps([self.value])]


def _activity(since: datetime | None, now: datetime) -> QuerySet[MemberActivity]:
    activity = MemberActivity.objects.filter(member=OuterRef("pk"), occurred_at__lte=now)
    return activity if since is None else activity.filter(occurred_at__gt=since)


class _Builder:
    """Turns cleaned rules into a Q, collecting the aliases (subqueries) the Q
    names; aliases are named by meaning, so segments evaluated together share them."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.aliases: dict[str, Expression] = {}

    def group(self, group: dict[str, Any]) -> Q:
        ((match, items),) = group.items()
        parts = [self.group(item) if "field" not in item else self.rule(item) for item in items]
        combined = parts[0]
        for part in parts[1:]:
            combined = combined & part if match == "all" else combined | part
        return combined

    def _alias(self, name: str, expression: Expression) -> str:
        self.aliases.setdefault(name, expression)
        return name

    def _numbers(self, target: str, op: str, value: Any) -> Q:
        if op == BETWEEN:
            return Q(**{f"{target}__gte": value[0], f"{target}__lte": value[1]})
        if op == NE:
            return Q(**{f"{target}__lt": value}) | Q(**{f"{target}__gt": value})
        return Q(**{f"{target}__{'exact' if op == EQ else op}": value})

    def _codes(self, target: str, present: Q, op: str, value: Any) -> Q:
        values = value if isinstance(value, list) else [value]
        positive = Q(**{f"{target}__in": values})
        return positive if op in (EQ, IN) else present & ~positive

    def _days_since(self, op: str, value: Any) -> Q:
        last = self._alias(
            "_seg_last_purchase",
            Subquery(
                _activity(None, self.now)
                .filter(source_type=PURCHASE)
                .values("member")
                .annotate(last=Max("occurred_at"))
                .values("last")
            ),
        )

        def at_least(days: int) -> Q:  # whole days elapsed ≥ days
            return Q(**{f"{last}__lte": self.now - timedelta(days=days)})

        def at_most(days: int) -> Q:
            return Q(**{f"{last}__gt": self.now - timedelta(days=days + 1)})

        if op == BETWEEN:
            return at_least(value[0]) & at_most(value[1])
        return {
            EQ: lambda: at_least(value) & at_most(value),
            NE: lambda: at_least(value + 1) | at_most(value - 1) if value else at_least(1),
            GT: lambda: at_least(value + 1),
            GTE: lambda: at_least(value),
            LT: lambda: at_most(value - 1) if value else Q(pk__in=[]),
            LTE: lambda: at_most(value),
        }[op]()

    def _day_start(self, day: str) -> datetime:
        return timezone.make_aware(datetime.combine(date.fromisoformat(day), time.min))

    def _joined(self, op: str, value: Any) -> Q:
        def start(day: str, plus: int = 0) -> datetime:
            return self._day_start(day) + timedelta(days=plus)

        if op == BETWEEN:
            return Q(joined_at__gte=start(value[0]), joined_at__lt=start(value[1], 1))
        return {
            EQ: lambda: Q(joined_at__gte=start(value), joined_at__lt=start(value, 1)),
            GT: lambda: Q(joined_at__gte=start(value, 1)),
            GTE: lambda: Q(joined_at__gte=start(value)),
            LT: lambda: Q(joined_at__lt=start(value)),
            LTE: lambda: Q(joined_at__lt=start(value, 1)),
        }[op]()

    def rule(self, rule: dict[str, Any]) -> Q:
        field, op, value = rule["field"], rule["op"], rule["value"]
        days = rule.get("days")
        since = self.now - timedelta(days=days) if days else None
        if field == "tier":
            return self._codes("tier__code", Q(tier__isnull=False), op, value)
        if field == "home_store":
            return self._codes("home_store__code", Q(home_store__isnull=False), op, value)
        if field == "rfm_class":
            return self._codes("rfm__rfm_class", Q(rfm__isnull=False), op, value)
        if field == "birth_month":
            return self._codes("birth_date__month", Q(birth_date__isnull=False), op, value)
        if field == "marketing_consent":
            return Q(marketing_consent=value)
        if field == "joined_at":
            return self._joined(op, value)
        if field == "days_since_last_purchase":
            return self._days_since(op, value)
        if field == "points_balance":
            return self._numbers("account__balance", op, value)
        if field == "churn_risk":  # stored as a share, asked as a percentage
            shares = [v / 100 for v in value] if isinstance(value, list) else value / 100
            return self._numbers("prediction__churn_risk", op, shares)
        if field == "predicted_value":
            amounts = [Decimal(v) for v in value] if isinstance(value, list) else Decimal(value)
            return self._numbers("prediction__predicted_value", op, amounts)
        if field == "tags":
            tags = value if isinstance(value, list) else [value]
            has = Q(JsonListHas("tags", tags[0]))
            for tag in tags[1:]:
                has |= Q(JsonListHas("tags", tag))
            return ~has if op == NOT_CONTAINS else has
        if field == "purchase_count":
            name = self._alias(
                f"_seg_purchases_{days or 'all'}",
                Coalesce(
                    Subquery(
                        _activity(since, self.now)
                        .filter(source_type=PURCHASE)
                        .values("member")
                        .annotate(n=Count("id"))
                        .values("n")
                    ),
                    0,
                ),
            )
            return self._numbers(name, op, value)
        # spend: lifetime from the account's running total, a window from the activity.
        amounts = [Decimal(v) for v in value] if isinstance(value, list) else Decimal(value)
        if since is None:
            return self._numbers("account__lifetime_spend", op, amounts)
        money = DecimalField(max_digits=limits.LIFETIME_SPEND_DIGITS, decimal_places=2)
        name = self._alias(
            f"_seg_spend_{days}",
            Coalesce(
                Subquery(
                    _activity(since, self.now)
                    .values("member")
                    .annotate(total=Sum("spend"))
                    .values("total"),
                    output_field=money,
                ),
                Value(Decimal("0.00")),
                output_field=money,
            ),
        )
        return self._numbers(name, op, amounts)


def segment_rules_queryset(
    *, rules: dict[str, Any], now: datetime | None = None
) -> QuerySet[Member]:
    """The active members matching `rules` (already cleaned), ordered by id."""
    builder = _Builder(now or timezone.now())
    condition = builder.group(rules)
    return (
        Member.objects.filter(status=MemberStatus.ACTIVE)
        .alias(**builder.aliases)
        .filter(condition)
        .order_by("id")
    )


def segment_members(segment: Segment, *, now: datetime | None = None) -> QuerySet[Member]:
    """The segment's members now (active ones), by id, with their tier and account."""
    return segment_rules_queryset(rules=segment.rules, now=now).select_related(
        "tier", "account", "home_store"
    )


def segment_count(segment: Segment, *, now: datetime | None = None) -> int:
    return segment_rules_queryset(rules=segment.rules, now=now).count()


def segments_matching(
    *, member: Member, segments: Iterable[Segment], now: datetime | None = None
) -> set[int]:
    """The ids of `segments` that `member` is in: one statement (none for no
    segments or an inactive member), for callers that hold the segments already."""
    segments = list(segments)
    if not segments or member.status != MemberStatus.ACTIVE:
        return set()
    builder = _Builder(now or timezone.now())
    flags = {
        f"_in_{segment.pk}": Case(
            When(builder.group(segment.rules), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
        for segment in segments
    }
    row = (
        Member.objects.filter(pk=member.pk, status=MemberStatus.ACTIVE)
        .alias(**builder.aliases)
        .annotate(**flags)
        .values(*flags)
        .first()
    )
    if row is None:
        return set()
    return {segment.pk for segment in segments if row[f"_in_{segment.pk}"]}


def member_in_segments(
    *, member: Member, segment_ids: Collection[int], now: datetime | None = None
) -> set[int]:
    """The ids among `segment_ids` of the segments `member` is in now. Two
    statements (the segments' rules, then one evaluation for all of them);
    none when `segment_ids` is empty or the member is not active."""
    if not segment_ids or member.status != MemberStatus.ACTIVE:
        return set()
    return segments_matching(
        member=member, segments=Segment.objects.filter(pk__in=set(segment_ids)), now=now
    )


CSV_COLUMNS = (
    "member_id",
    "card_number",
    "first_name",
    "last_name",
    "email",
    "phone",
    "tier",
    "home_store",
    "points_balance",
    "rfm_class",
    "marketing_consent",
    "joined_at",
)


def segment_members_rows(segment: Segment, *, now: datetime | None = None) -> Iterable[list[Any]]:
    """The segment's members as CSV rows (a header, then one row a member, by
    id), read with values_list EXPORT_CHUNK at a time so a large segment
    streams in constant memory; times in the program's time zone, the
    balance as the integer it is. Written through loyalty.csv_files.csv_lines,
    which escapes every cell a spreadsheet would run as a formula."""
    yield list(CSV_COLUMNS)
    rows = (
        segment_rules_queryset(rules=segment.rules, now=now)
        .order_by("pk")
        .values_list(
            "public_id",
            "card_number",
            "first_name",
            "last_name",
            "email",
            "phone",
            "tier__code",
            "home_store__code",
            "account__balance",
            "rfm__rfm_class",
            "marketing_consent",
            "joined_at",
        )
        .iterator(chunk_size=EXPORT_CHUNK)
    )
    for public_id, card, first, last, email, phone, tier, store, balance, rfm, *rest in rows:
        consent, joined = rest
        yield [
            public_id,
            card,
            first or "",
            last or "",
            email or "",
            phone or "",
            tier or "",
            store or "",
            balance or 0,
            rfm or "",
            "yes" if consent else "no",
            export_time(joined),
        ]


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.order_by("name", "id")


def segment_get(*, segment_id: int) -> Segment:
    """Raises SegmentNotFound."""
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        raise SegmentNotFound()
    return segment


# --- Writes -----------------------------------------------------------------------------------


def _clean_name(name: Any, *, exclude: int | None = None) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed(fields={"name": [_("Give the segment a name.")]})
    name = name.strip()
    problem = limits.text_problem(name)
    if problem:
        raise ValidationFailed(fields={"name": [problem]})
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationFailed(
            fields={"name": [_("Use at most %(max)s characters.") % {"max": NAME_MAX_LENGTH}]}
        )
    others = Segment.objects.exclude(pk=exclude) if exclude else Segment.objects.all()
    if others.filter(name__iexact=name).exists():
        raise ValidationFailed(fields={"name": [_("A segment with this name already exists.")]})
    return name


def _clean_description(description: Any) -> str:
    if not isinstance(description, str):
        raise ValidationFailed(fields={"description": [_("Give a text value.")]})
    problem = limits.text_problem(description)
    if problem or len(description) > 255:
        raise ValidationFailed(
            fields={"description": [problem or _("Use at most %(max)s characters.") % {"max": 255}]}
        )
    return description.strip()


@transaction.atomic
def segment_create(
    *, actor: Actor, name: str, rules: Any, description: str = "", now: datetime | None = None
) -> Segment:
    """Save a segment. Raises ValidationFailed naming the fields (rules by path)."""
    segment = Segment.objects.create(
        name=_clean_name(name),
        description=_clean_description(description),
        rules=segment_rules_clean(rules),
        created_at=now or timezone.now(),
    )
    audit_record(
        actor=actor, action="segment.create", obj=segment, after=snapshot(segment, SEGMENT_FIELDS)
    )
    return segment


@transaction.atomic
def segment_update(*, actor: Actor, segment: Segment, **changes: Any) -> Segment:
    """Change a segment's name, description or rules. Raises ValidationFailed."""
    unknown = set(changes) - set(SEGMENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown segment fields: {sorted(unknown)}")
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    before = snapshot(segment, SEGMENT_FIELDS)
    if "name" in changes:
        segment.name = _clean_name(changes["name"], exclude=segment.pk)
    if "description" in changes:
        segment.description = _clean_description(changes["description"])
    if "rules" in changes:
        segment.rules = segment_rules_clean(changes["rules"])
    segment.save()
    audit_record(
        actor=actor,
        action="segment.update",
        obj=segment,
        before=before,
        after=snapshot(segment, SEGMENT_FIELDS),
    )
    return segment


@transaction.atomic
def segment_delete(*, actor: Actor, segment: Segment) -> None:
    """Delete a segment nothing targets. Raises SegmentInUse naming what uses
    it (rewards and campaigns hold it with PROTECT)."""
    before = snapshot(segment, SEGMENT_FIELDS)
    pk = segment.pk
    try:
        with transaction.atomic():
            segment.delete()
    except ProtectedError as error:
        names = sorted({str(obj) for obj in error.protected_objects})
        raise SegmentInUse(
            _("This segment is used by: %(names)s. Take it off them before deleting it.")
            % {"names": ", ".join(names[:10])}
        ) from error
    segment.pk = pk
    audit_record(actor=actor, action="segment.delete", obj=segment, before=before)
