"""Back-office pages of members: the counter (search, enrol, profile, edit,
corrections) for store staff and managers, and the managers' tier pages."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, ListView, TemplateView

from loyalty.access import StaffRequiredMixin
from loyalty.actors import Actor
from loyalty.errors import DomainError
from loyalty.exports import export_download
from loyalty.forms import form_errors_from
from loyalty.roles import EXPORT_PERMISSIONS, MANAGE_PROGRAM, SERVE_COUNTER, is_manager
from loyalty.selectors import program_settings_get
from members.errors import MemberNotFound
from members.filters import LedgerFilter
from members.forms import (
    MemberEditForm,
    MemberEnrolForm,
    MemberEraseStaffForm,
    MemberSearchForm,
    MemberTierForm,
    PointsAdjustForm,
    TierForm,
    TierUpdateForm,
)
from members.models import EntryStatus, Member, MemberActivity, MemberRfm, Tier
from members.notifications import consent_changes_of
from members.points import points_adjust
from members.privacy import member_erase
from members.selectors import (
    ledger_list,
    member_export_rows,
    member_get,
    member_search,
    member_status,
    points_by_day,
    tier_history,
)
from members.services import member_enrol, member_update
from members.tiers import member_tier_set, tier_create, tier_delete, tier_update
from members.views import member_data_download

HISTORY_PAGE_SIZE = 20
RECENT_PURCHASES = 10
CONSENT_CHANGES_SHOWN = 20
TIER_CHANGES_SHOWN = 10


def exact_hit(query: str) -> Member | None:
    """The member whose card number, email, phone or external id is exactly
    `query` (once normalised), or None: the counter then goes straight to the
    profile.

    Exact look-ups, not the free-text search: "ann@x.com" must open Ann's
    profile even when "joann@x.com" also contains it."""
    lookups = [
        member_search(card_number=query.replace(" ", "")),
        member_search(external_id=query),
    ]
    if "@" in query:
        lookups.append(member_search(email=query))
    else:
        lookups.append(member_search(phone=query))
    for members in lookups:
        found = list(members[:2])
        if len(found) == 1:
            return found[0]
    return None


class MemberPageMixin(StaffRequiredMixin):
    """A counter page about the member of the URL. The member is looked up
    only once the role is checked, so nobody else learns which ids exist."""

    permission_required: str | tuple[str, ...] = SERVE_COUNTER
    kwargs: dict[str, Any]

    @cached_property
    def member(self) -> Member:
        try:
            return member_get(public_id=self.kwargs["public_id"])
        except MemberNotFound as exc:
            raise Http404(exc.message) from exc

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(member=self.member, **kwargs)


# --- The counter ------------------------------------------------------------------------------


class MemberSearchView(StaffRequiredMixin, ListView):
    permission_required = SERVE_COUNTER
    template_name = "staff/members/member_list.html"
    context_object_name = "members"
    paginate_by = 25

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.form = MemberSearchForm(request.GET or None)
        self.query = self.form.cleaned_data["q"].strip() if self.form.is_valid() else ""
        if self.query and "page" not in request.GET:
            member = exact_hit(self.query)
            if member is not None:
                return redirect("staff:member_detail", public_id=member.public_id)
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Member]:
        return member_search(search=self.query) if self.query else Member.objects.none()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(form=self.form, query=self.query, **kwargs)


class MemberExportView(StaffRequiredMixin, View):
    """Every member as a streamed CSV download (managers); the export is
    audited (`member.export`): it carries every member's contact details."""

    permission_required = EXPORT_PERMISSIONS["member"]
    http_method_names = ["get"]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        return export_download(
            request=request,
            kind="member",
            rows=member_export_rows(),
            filters={},
            store=None,
            count=Member.objects.count(),
            name="members",
        )


class MemberEnrolView(StaffRequiredMixin, FormView):
    permission_required = SERVE_COUNTER
    template_name = "staff/members/member_form.html"
    form_class = MemberEnrolForm

    def get_initial(self) -> dict[str, Any]:
        # The counter's default: the store the account works at, else the main store.
        return {
            "home_store": self.request.user.store or program_settings_get().main_store,
            "language": settings.LANGUAGE_CODE,
        }

    def form_valid(self, form: MemberEnrolForm) -> HttpResponse:
        try:
            member = member_enrol(actor=Actor.from_request(self.request), **form.cleaned_data)
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request,
            _("%(name)s is enrolled, card number %(card)s.")
            % {"name": member, "card": member.card_number},
        )
        return redirect("staff:member_detail", public_id=member.public_id)


class MemberDetailView(MemberPageMixin, TemplateView):
    template_name = "staff/members/member_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        member = self.member
        history = LedgerFilter(self.request.GET or None, queryset=ledger_list(member=member))
        page_obj = Paginator(history.qs, HISTORY_PAGE_SIZE).get_page(self.request.GET.get("page"))
        return super().get_context_data(
            status=member_status(member=member),
            expiring=points_by_day(
                member_id=member.pk,
                status=EntryStatus.AVAILABLE,
                column="expires_at",
                after=timezone.now(),
            ),
            account=member.account,
            program=program_settings_get(),
            history=history,
            page_obj=page_obj,
            entries=page_obj.object_list,
            recent_purchases=MemberActivity.objects.filter(member=member, source_type="purchase")[
                :RECENT_PURCHASES
            ],
            tier_changes=tier_history(member=member)[:TIER_CHANGES_SHOWN],
            consent_changes=consent_changes_of(member=member)[:CONSENT_CHANGES_SHOWN],
            rfm=MemberRfm.objects.filter(member=member).first(),
            can_set_tier=is_manager(self.request.user),
            can_answer_privacy=is_manager(self.request.user),
            **kwargs,
        )


class MemberDataExportView(MemberPageMixin, View):
    """A manager downloads all the member's data (a member's request made at
    the counter or by mail): the same document as the portal's, audited."""

    permission_required = MANAGE_PROGRAM

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        return member_data_download(request, self.member)


class MemberEraseView(MemberPageMixin, FormView):
    """A manager erases the member's personal data on their request
    (members.privacy.member_erase): it cannot be undone."""

    permission_required = MANAGE_PROGRAM
    template_name = "staff/members/member_erase_form.html"
    form_class = MemberEraseStaffForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "card_number": self.member.card_number}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(account=self.member.account, **kwargs)

    def form_valid(self, form: MemberEraseStaffForm) -> HttpResponse:
        erasure = member_erase(actor=Actor.from_request(self.request), member=self.member)
        if erasure.already:
            messages.info(self.request, _("This member's data was already erased."))
        else:
            messages.success(
                self.request,
                _("The member's data is erased; %(points)s points were forfeited.")
                % {"points": erasure.points_forfeited},
            )
        return redirect("staff:member_detail", self.member.public_id)


class MemberEditView(MemberPageMixin, FormView):
    template_name = "staff/members/member_form.html"
    form_class = MemberEditForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "current_status": self.member.status}

    def get_initial(self) -> dict[str, Any]:
        member = self.member
        return {
            "status": member.status,
            "first_name": member.first_name,
            "last_name": member.last_name,
            "email": member.email,
            "phone": member.phone,
            "external_id": member.external_id,
            "birth_date": member.birth_date,
            "language": member.language,
            "marketing_consent": member.marketing_consent,
            "tags": ", ".join(member.tags),
            "home_store": member.home_store,
        }

    def form_valid(self, form: MemberEditForm) -> HttpResponse:
        try:
            member_update(
                actor=Actor.from_request(self.request), member=self.member, **form.cleaned_data
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("Member details saved."))
        return redirect("staff:member_detail", public_id=self.member.public_id)


class MemberAdjustView(MemberPageMixin, FormView):
    template_name = "staff/members/member_adjust_form.html"
    form_class = PointsAdjustForm

    def get_form_kwargs(self) -> dict[str, Any]:
        limit = None if is_manager(self.request.user) else program_settings_get().staff_adjust_limit
        return {**super().get_form_kwargs(), "limit": limit}

    def form_valid(self, form: PointsAdjustForm) -> HttpResponse:
        try:
            entry = points_adjust(
                actor=Actor.from_request(self.request), member=self.member, **form.cleaned_data
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request,
            _("Points corrected by %(points)+d; the balance is now %(balance)s.")
            % {"points": entry.points, "balance": entry.balance_after},
        )
        return redirect("staff:member_detail", public_id=self.member.public_id)


class MemberTierSetView(MemberPageMixin, FormView):
    permission_required = MANAGE_PROGRAM
    template_name = "staff/members/member_tier_form.html"
    form_class = MemberTierForm

    def get_initial(self) -> dict[str, Any]:
        return {"tier": self.member.tier, "until": self.member.tier_override_until}

    def form_valid(self, form: MemberTierForm) -> HttpResponse:
        try:
            member_tier_set(
                actor=Actor.from_request(self.request), member=self.member, **form.cleaned_data
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request,
            _("Tier set to %(tier)s until %(until)s.")
            % {
                "tier": form.cleaned_data["tier"].name,
                "until": date_format(form.cleaned_data["until"]),
            },
        )
        return redirect("staff:member_detail", public_id=self.member.public_id)


# --- Tiers (managers) ---------------------------------------------------------------------------


class TierListView(StaffRequiredMixin, ListView):
    permission_required = MANAGE_PROGRAM
    template_name = "staff/members/tier_list.html"
    context_object_name = "tiers"

    def get_queryset(self) -> QuerySet[Tier]:
        return Tier.objects.annotate(member_count=Count("member")).order_by("threshold")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(program=program_settings_get(), **kwargs)


class TierCreateView(StaffRequiredMixin, FormView):
    permission_required = MANAGE_PROGRAM
    template_name = "staff/members/tier_form.html"
    form_class = TierForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "basis": program_settings_get().tier_basis}

    def form_valid(self, form: TierForm) -> HttpResponse:
        try:
            tier = tier_create(actor=Actor.from_request(self.request), **form.cleaned_data)
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("Tier %(name)s created.") % {"name": tier.name})
        return redirect("staff:tier_list")


class TierUpdateView(StaffRequiredMixin, FormView):
    permission_required = MANAGE_PROGRAM
    template_name = "staff/members/tier_form.html"
    form_class = TierUpdateForm

    @cached_property
    def tier(self) -> Tier:
        return get_object_or_404(Tier, code=self.kwargs["code"])

    def get_form_kwargs(self) -> dict[str, Any]:
        # A fresh copy: the form writes its values onto its instance while validating.
        return {
            **super().get_form_kwargs(),
            "instance": Tier.objects.get(pk=self.tier.pk),
            "basis": program_settings_get().tier_basis,
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(tier=self.tier, **kwargs)

    def form_valid(self, form: TierUpdateForm) -> HttpResponse:
        try:
            tier_update(actor=Actor.from_request(self.request), tier=self.tier, **form.cleaned_data)
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request, _("Tier %(name)s saved.") % {"name": form.cleaned_data["name"]}
        )
        return redirect("staff:tier_list")


class TierDeleteView(StaffRequiredMixin, TemplateView):
    """GET asks to confirm; POST deletes, or explains why it cannot."""

    permission_required = MANAGE_PROGRAM
    template_name = "staff/members/tier_confirm_delete.html"

    @cached_property
    def tier(self) -> Tier:
        return get_object_or_404(Tier, code=self.kwargs["code"])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(tier=self.tier, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseRedirect:
        name = self.tier.name
        try:
            tier_delete(actor=Actor.from_request(request), tier=self.tier)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("staff:tier_list")
        messages.success(request, _("Tier %(name)s deleted.") % {"name": name})
        return redirect("staff:tier_list")
