"""Template helpers shared by the portal and the back-office."""

from __future__ import annotations

from typing import Any

from django import forms, template
from django.contrib.auth.base_user import AbstractBaseUser
from django.forms import BoundField
from django.utils.safestring import SafeString

from loyalty.roles import Role, user_roles

register = template.Library()


@register.simple_tag(takes_context=True)
def query_replace(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with some parameters replaced (keeps filters when paging)."""
    query = context["request"].GET.copy()
    for key, value in changes.items():
        query[key] = value
    return query.urlencode()


@register.filter
def is_checkbox(field: BoundField) -> bool:
    return isinstance(field.field.widget, forms.CheckboxInput)


@register.filter
def is_multiple_checkbox(field: BoundField) -> bool:
    return isinstance(field.field.widget, forms.CheckboxSelectMultiple)


@register.filter
def with_describedby(field: BoundField) -> SafeString:
    """Render a field tied to its help text and errors for screen readers."""
    ids = []
    if field.help_text:
        ids.append(f"{field.auto_id}_help")
    if field.errors:
        ids.append(f"{field.auto_id}_error")
    attrs: dict[str, str] = {}
    if ids:
        attrs["aria-describedby"] = " ".join(ids)
    if field.errors:
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)


@register.filter
def roles(user: AbstractBaseUser) -> list[Role]:
    """The staff roles a user holds, most powerful first."""
    return user_roles(user)
