"""The segment rule builder of the back-office: a form that works without
JavaScript. Rules at the top level and in groups (one level, as
members.segments.MAX_DEPTH allows) are rows of field, op, value and days;
"Add a rule" and "Add a group" are submit buttons that draw the form again
with one more row or group. The form only shapes the typed text into rules;
members.segments checks them, and its refusals come back onto the rows."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.forms import formset_factory
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from loyalty import limits
from loyalty.errors import DomainError
from members.segments import (
    BETWEEN,
    FIELDS,
    IN,
    MAX_RULES,
    NAME_MAX_LENGTH,
    NOT_IN,
    OP_LABELS,
)

MATCH_CHOICES = [("all", _("all of")), ("any", _("any of"))]
MAX_GROUPS = 8
TRUE_WORDS = {"yes", "true", "1", "ya", "y"}
FALSE_WORDS = {"no", "false", "0", "tidak", "n"}


class RuleRowForm(forms.Form):
    field = forms.ChoiceField(
        label=_("Field"),
        required=False,
        choices=[("", "—"), *((name, spec.label) for name, spec in FIELDS.items())],
    )
    op = forms.ChoiceField(label=_("Condition"), required=False, choices=list(OP_LABELS.items()))
    value = forms.CharField(label=_("Value"), required=False, max_length=1000)
    days = forms.IntegerField(
        label=_("In the last (days)"),
        required=False,
        min_value=1,
        max_value=limits.DAYS_MAX,
    )

    def rule(self) -> dict[str, Any] | None:
        """The row as a rule (None for a blank row), values shaped by the
        field's kind; what cannot be shaped is passed on for the check to name."""
        data = getattr(self, "cleaned_data", None) or {}
        field = data.get("field")
        if not field:
            return None
        op = data.get("op") or ""
        text = (data.get("value") or "").strip()
        kind = FIELDS[field].kind
        if op in (IN, NOT_IN, BETWEEN):
            value: Any = [_shape(kind, part.strip()) for part in text.split(",") if part.strip()]
        else:
            value = _shape(kind, text)
        rule = {"field": field, "op": op, "value": value}
        if data.get("days") and FIELDS[field].window:
            rule["days"] = data["days"]
        elif data.get("days"):
            rule["days"] = data["days"]  # the check says this field takes no days
        return rule


def _shape(kind: str, text: str) -> Any:
    if kind == "int" and re.fullmatch(r"-?\d{1,15}", text):
        return int(text)
    if kind == "bool" and text.lower() in TRUE_WORDS | FALSE_WORDS:
        return text.lower() in TRUE_WORDS
    return text


RuleRows = formset_factory(RuleRowForm, extra=0, max_num=MAX_RULES, absolute_max=MAX_RULES)


def _row_initial(rule: dict[str, Any]) -> dict[str, Any]:
    value = rule["value"]
    if isinstance(value, list):
        text = ", ".join(str(item) for item in value)
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    else:
        text = str(value)
    return {"field": rule["field"], "op": rule["op"], "value": text, "days": rule.get("days")}


class SegmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=NAME_MAX_LENGTH)
    description = forms.CharField(label=_("Description"), max_length=255, required=False)
    match = forms.ChoiceField(label=_("Members who match"), choices=MATCH_CHOICES, initial="all")
    groups = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=MAX_GROUPS)


class SegmentBuilder:
    """The whole builder: the segment's form, its top rows, and each group's
    match and rows. Built from POST data, or from a saved segment's rules."""

    def __init__(
        self,
        data: QueryDict | None = None,
        *,
        initial: dict[str, Any] | None = None,
        rules: dict[str, Any] | None = None,
    ) -> None:
        self.paths: dict[str, RuleRowForm] = {}
        self.errors: list[str] = []
        if data is not None:
            self.form = SegmentForm(data)
            groups = self._group_count(data)
            self.top = RuleRows(data, prefix="top")
            self.groups = []
            for index in range(groups):
                match = data.get(f"g{index}-match")
                self.groups.append(
                    (
                        match if match in ("all", "any") else "any",
                        RuleRows(data, prefix=f"g{index}"),
                    )
                )
            return
        rules = rules or {"all": []}
        ((match, items),) = rules.items()
        top = [_row_initial(item) for item in items if "field" in item]
        nested = [item for item in items if "field" not in item]
        self.form = SegmentForm(initial={**(initial or {}), "match": match, "groups": len(nested)})
        self.top = RuleRows(initial=top + [{}] * (1 if top else 3), prefix="top")
        self.top.extra = 0
        self.groups = []
        for index, group in enumerate(nested):
            ((group_match, group_items),) = group.items()
            rows = RuleRows(
                initial=[_row_initial(item) for item in group_items] + [{}],
                prefix=f"g{index}",
            )
            self.groups.append((group_match, rows))

    @staticmethod
    def _group_count(data: QueryDict) -> int:
        try:
            return max(0, min(int(data.get("groups") or 0), MAX_GROUPS))
        except ValueError:
            return 0

    def is_valid(self) -> bool:
        valid = self.form.is_valid() and self.top.is_valid()
        return all([valid, *(rows.is_valid() for _match, rows in self.groups)])

    def rules(self) -> dict[str, Any]:
        """The rules the rows say, remembering which row each path is."""
        match = self.form.cleaned_data.get("match") or "all"
        items: list[dict[str, Any]] = []
        for row in self.top.forms:
            rule = row.rule()
            if rule is not None:
                self.paths[f"rules.{match}[{len(items)}]"] = row
                items.append(rule)
        for group_match, rows in self.groups:
            group_items: list[dict[str, Any]] = []
            place = f"rules.{match}[{len(items)}].{group_match}"
            for row in rows.forms:
                rule = row.rule()
                if rule is not None:
                    self.paths[f"{place}[{len(group_items)}]"] = row
                    group_items.append(rule)
            if group_items:
                items.append({group_match: group_items})
        return {match: items}

    def show_refusal(self, error: DomainError) -> None:
        """Put each of the check's messages on its row and field."""
        for path, messages in (error.fields or {}).items():
            if not path.startswith("rules"):
                for message in messages:
                    self.form.add_error(path if path in self.form.fields else None, message)
                continue
            row_path, _dot, field = path.rpartition(".")
            row = self.paths.get(row_path) if field in RuleRowForm.base_fields else None
            if row is None:
                row, field = self.paths.get(path), None
            for message in messages:
                if row is not None:
                    row.add_error(field, message)
                else:
                    self.errors.append(message)
        if not error.fields:
            self.errors.append(error.message)

    def grown(self, data: QueryDict, action: str) -> SegmentBuilder:
        """The same builder with one more row (action "add:top", "add:g2") or
        group ("add:group"), drawn from the posted data."""
        data = data.copy()
        if action == "add:group" and self._group_count(data) < MAX_GROUPS:
            index = self._group_count(data)
            data["groups"] = str(index + 1)
            data[f"g{index}-match"] = "any"
            data[f"g{index}-TOTAL_FORMS"] = "2"
            data[f"g{index}-INITIAL_FORMS"] = "0"
        elif action.startswith("add:"):
            prefix = action.removeprefix("add:")
            key = f"{prefix}-TOTAL_FORMS"
            if key in data:
                data[key] = str(min(int(data[key] or 0) + 1, MAX_RULES))
        return SegmentBuilder(data)
