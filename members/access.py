"""Guard for portal pages: only a signed-in member may enter, and every query
of a portal view is scoped to `self.member`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from members.models import Member, MemberStatus
from members.selectors import member_of_user


class MemberRequiredMixin(LoginRequiredMixin):
    member: Member

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        member = member_of_user(request.user)
        if member is None or member.status == MemberStatus.DELETED:
            raise PermissionDenied(_("These pages are for members of the program."))
        self.member = member
        return super().dispatch(request, *args, **kwargs)
