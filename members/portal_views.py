"""Member pages. Every query is scoped to `self.member` (MemberRequiredMixin)."""

from __future__ import annotations

from typing import Any

from django.views.generic import TemplateView

from loyalty.selectors import program_settings_get
from members.access import MemberRequiredMixin


class PortalHomeView(MemberRequiredMixin, TemplateView):
    template_name = "portal/members/home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            member=self.member, program=program_settings_get(), **kwargs
        )
