"""The unread count of the portal navigation's inbox link."""

from __future__ import annotations

from django import template
from django.http import HttpRequest

from loyalty.models import Notification

register = template.Library()


@register.simple_tag
def inbox_unread(request: HttpRequest) -> int:
    """The signed-in member's unread notifications (0 for anyone else): one
    COUNT through the member's login, no member read first."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return Notification.objects.filter(member__user=user, read_at__isnull=True).count()
