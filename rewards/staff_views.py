"""Back-office pages of the rewards catalogue (marketers and managers) and of
gift-card designs (managers). Every write goes through rewards.services or rewards.gift_cards."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Any

from django.contrib import messages
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.generic import FormView, ListView, TemplateView

from loyalty.access import StaffRequiredMixin
from loyalty.actors import Actor
from loyalty.errors import DomainError
from loyalty.exports import FilteredExportView, FilteredListMixin, FilteredListView
from loyalty.forms import form_errors_from
from loyalty.models import Store
from loyalty.roles import EXPORT_PERMISSIONS, MANAGE_MARKETING, MANAGE_PROGRAM
from rewards.errors import StockChanged
from rewards.filters import RedemptionFilter
from rewards.gift_cards import gift_card_design_create, gift_card_design_update
from rewards.models import GiftCardDesign, Redemption, RedemptionStatus, Reward, RewardCategory
from rewards.selectors import (
    donation_totals,
    redemption_export_rows,
    redemption_list,
    reward_list,
)
from rewards.services import (
    reward_archive,
    reward_category_create,
    reward_create,
    reward_move,
    reward_update,
)
from rewards.staff_forms import (
    GiftCardDesignForm,
    RewardCategoryForm,
    RewardFilterForm,
    RewardForm,
)


class RewardListView(StaffRequiredMixin, ListView):
    """The catalogue with the units redeemed of each (counted in the same
    query) and filters; rewards not archived can be moved up and down."""

    permission_required = MANAGE_MARKETING
    template_name = "staff/rewards/reward_list.html"
    context_object_name = "rewards"

    @cached_property
    def filters(self) -> RewardFilterForm:
        form = RewardFilterForm(self.request.GET or None)
        form.is_valid()
        return form

    def get_queryset(self) -> QuerySet[Reward]:
        values = getattr(self.filters, "cleaned_data", {})
        status = values.get("status") or ""
        # Units, not redemptions: one redemption of 3 took 3 off the stock,
        # and a cancelled one put its units back, so it counts none.
        # order_by again: Meta.ordering does not apply to a query with GROUP BY.
        rewards = (
            reward_list(include_archived=True)
            .annotate(
                redeemed_units=Coalesce(
                    Sum(
                        "redemptions__quantity",
                        filter=Q(redemptions__status=RedemptionStatus.COMPLETED),
                    ),
                    0,
                )
            )
            .order_by("position", "id")
        )
        if status == "archived":
            rewards = rewards.filter(archived_at__isnull=False)
        elif status != "all":
            rewards = rewards.filter(archived_at__isnull=True)
        if status == "active":
            rewards = rewards.filter(active=True)
        elif status == "inactive":
            rewards = rewards.filter(active=False)
        if values.get("kind"):
            rewards = rewards.filter(kind=values["kind"])
        if values.get("category"):
            rewards = rewards.filter(category=values["category"])
        return rewards

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            filters=self.filters, filtered=bool(self.request.GET), **kwargs
        )


class DonationTotalsView(StaffRequiredMixin, TemplateView):
    """The points members gave to each cause, and how many gave, counting
    redemptions not cancelled."""

    permission_required = MANAGE_MARKETING
    template_name = "staff/rewards/donation_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(causes=donation_totals(), **kwargs)


class RewardPageMixin(StaffRequiredMixin):
    """A page about one reward, archived or not."""

    permission_required: str | tuple[str, ...] = MANAGE_MARKETING

    @cached_property
    def reward(self) -> Reward:
        return get_object_or_404(
            Reward.objects.select_related("category", "design"), pk=self.kwargs["reward_id"]
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(reward=self.reward, **kwargs)


class RewardCreateView(StaffRequiredMixin, FormView):
    permission_required = MANAGE_MARKETING
    template_name = "staff/rewards/reward_form.html"
    form_class = RewardForm

    def form_valid(self, form: RewardForm) -> HttpResponse:
        try:
            reward = reward_create(
                actor=Actor.from_request(self.request),
                tiers=list(form.cleaned_data["tiers"]),
                **form.changes(),
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("Reward %(name)s created.") % {"name": reward.name})
        return redirect("staff:reward_list")


class RewardUpdateView(RewardPageMixin, FormView):
    template_name = "staff/rewards/reward_form.html"
    form_class = RewardForm

    def get_form_kwargs(self) -> dict[str, Any]:
        # A fresh copy: the form writes its values onto its instance while validating.
        return {**super().get_form_kwargs(), "instance": Reward.objects.get(pk=self.reward.pk)}

    def form_valid(self, form: RewardForm) -> HttpResponse:
        stock_edit = form.stock_edit()
        try:
            reward = reward_update(
                actor=Actor.from_request(self.request),
                reward=self.reward,
                tiers=list(form.cleaned_data["tiers"]),
                stock_edit=stock_edit,
                **form.changes(),
            )
        except StockChanged as error:
            form_errors_from(form, error)
            # Show the stock as it is now, so saving again starts from it.
            form.data = form.data.copy()
            current = Reward.objects.get(pk=self.reward.pk).stock
            for name in ("stock", "stock_seen"):
                form.data[form.add_prefix(name)] = "" if current is None else str(current)
            return self.form_invalid(form)
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request, _("Reward %(name)s saved.") % {"name": form.cleaned_data["name"]}
        )
        if stock_edit is not None and reward.stock not in (None, stock_edit.to):
            messages.info(
                self.request,
                _("The stock changed while you edited: %(left)s left now.")
                % {"left": reward.stock},
            )
        return redirect("staff:reward_list")


class RewardPreviewView(RewardPageMixin, TemplateView):
    """The reward's card as members see it in the portal catalogue."""

    template_name = "staff/rewards/reward_preview.html"


class RewardArchiveView(RewardPageMixin, TemplateView):
    """GET asks to confirm; POST archives for good."""

    template_name = "staff/rewards/reward_confirm_archive.html"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseRedirect:
        reward_archive(actor=Actor.from_request(request), reward=self.reward)
        messages.success(request, _("Reward %(name)s archived.") % {"name": self.reward.name})
        return redirect("staff:reward_list")


class RewardMoveView(RewardPageMixin, TemplateView):
    """POST only: the list's up and down buttons."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseRedirect:
        try:
            reward_move(
                actor=Actor.from_request(request),
                reward=self.reward,
                direction=request.POST.get("direction", ""),
            )
        except DomainError as error:
            messages.error(request, error.message)
        return redirect("staff:reward_list")


class RewardCategoryListView(StaffRequiredMixin, FormView):
    """The categories, with the form to add one below them."""

    permission_required = MANAGE_MARKETING
    template_name = "staff/rewards/category_list.html"
    form_class = RewardCategoryForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        categories = RewardCategory.objects.annotate(
            reward_count=Count("rewards", filter=Q(rewards__archived_at__isnull=True))
        ).order_by("position", "name")
        return super().get_context_data(categories=categories, **kwargs)

    def form_valid(self, form: RewardCategoryForm) -> HttpResponse:
        try:
            category = reward_category_create(
                actor=Actor.from_request(self.request), **form.cleaned_data
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("Category %(name)s added.") % {"name": category.name})
        return redirect("staff:reward_category_list")


class GiftCardDesignListView(StaffRequiredMixin, ListView):
    permission_required = MANAGE_PROGRAM
    template_name = "staff/rewards/giftcarddesign_list.html"
    context_object_name = "designs"

    def get_queryset(self) -> QuerySet[GiftCardDesign]:
        return GiftCardDesign.objects.annotate(card_count=Count("gift_cards")).order_by(
            "position", "id"
        )


class GiftCardDesignCreateView(StaffRequiredMixin, FormView):
    permission_required = MANAGE_PROGRAM
    template_name = "staff/rewards/giftcarddesign_form.html"
    form_class = GiftCardDesignForm

    def form_valid(self, form: GiftCardDesignForm) -> HttpResponse:
        try:
            design = gift_card_design_create(
                actor=Actor.from_request(self.request), **form.changes()
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("Design %(name)s created.") % {"name": design.name})
        return redirect("staff:gift_card_design_list")


class GiftCardDesignUpdateView(StaffRequiredMixin, FormView):
    permission_required = MANAGE_PROGRAM
    template_name = "staff/rewards/giftcarddesign_form.html"
    form_class = GiftCardDesignForm

    @cached_property
    def design(self) -> GiftCardDesign:
        return get_object_or_404(GiftCardDesign, pk=self.kwargs["design_id"])

    def get_form_kwargs(self) -> dict[str, Any]:
        return {
            **super().get_form_kwargs(),
            "instance": GiftCardDesign.objects.get(pk=self.design.pk),
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(design=self.design, **kwargs)

    def form_valid(self, form: GiftCardDesignForm) -> HttpResponse:
        try:
            gift_card_design_update(
                actor=Actor.from_request(self.request), design=self.design, **form.changes()
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request, _("Design %(name)s saved.") % {"name": form.cleaned_data["name"]}
        )
        return redirect("staff:gift_card_design_list")


class RedemptionListMixin(FilteredListMixin):
    """Every redemption, for managers and marketers alike (not store-bound)."""

    permission_required = EXPORT_PERMISSIONS["redemption"]
    store_scoped = False
    filterset_class = RedemptionFilter

    def scoped_queryset(self, store: Store | None) -> QuerySet[Redemption]:
        return redemption_list(store=store)


class RedemptionListView(RedemptionListMixin, FilteredListView):
    template_name = "staff/rewards/redemption_list.html"
    context_object_name = "redemptions"


class RedemptionExportView(RedemptionListMixin, FilteredExportView):
    export_kind = "redemption"
    export_name = "redemptions"

    def export_rows(self, queryset: QuerySet[Redemption]) -> Iterator[list[Any]]:
        return redemption_export_rows(redemptions=queryset)
