"""Back-office pages of sales: record a member's purchase by hand (with a
preview before it is written), read a purchase, record a return; the lists
of purchases and of the ledger, each with its CSV export of the rows its
filters select (loyalty/exports.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.generic import FormView, TemplateView

from loyalty.access import StaffRequiredMixin
from loyalty.actors import Actor
from loyalty.errors import DomainError
from loyalty.exports import FilteredExportView, FilteredListMixin, FilteredListView
from loyalty.forms import form_errors_from
from loyalty.models import Store
from loyalty.money import money_format
from loyalty.roles import EXPORT_PERMISSIONS, SERVE_COUNTER
from loyalty.selectors import program_settings_get
from members.models import PointsEntry
from members.selectors import ledger_export_rows
from members.staff_views import MemberPageMixin
from purchases.errors import DuplicateReference
from purchases.filters import LedgerEntryFilter, PurchaseFilter
from purchases.forms import ReturnForm, SaleForm
from purchases.models import Purchase
from purchases.quote import sale_quote
from purchases.returns import purchase_return
from purchases.selectors import (
    ledger_entry_list,
    purchase_export_rows,
    purchase_list,
)
from purchases.services import purchase_record, sale_preview


class PurchaseCreateView(MemberPageMixin, FormView):
    """Three steps without JavaScript: the form, a preview ("action=preview"),
    then the recording ("action=confirm"); "action=edit" goes back to the form."""

    template_name = "staff/purchases/purchase_form.html"
    confirm_template_name = "staff/purchases/purchase_confirm.html"
    form_class = SaleForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "member": self.member}

    def get_initial(self) -> dict[str, Any]:
        # The counter's default: the store the account works at, else the main store.
        return {"store": self.request.user.store or program_settings_get().main_store}

    def form_valid(self, form: SaleForm) -> HttpResponse:
        action = self.request.POST.get("action", "preview")
        if action == "edit":
            return self.render_to_response(self.get_context_data(form=form))
        now = timezone.now()
        sale = form.sale_input(now=now)
        try:
            if action == "confirm":
                recorded = purchase_record(sale=sale, actor=Actor.from_request(self.request))
            else:
                preview = sale_preview(sale=sale, now=now)
                quote = sale_quote(sale=sale, program=program_settings_get())
        except DuplicateReference as error:
            form.add_error("reference", error.message)
            return self.form_invalid(form)
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        if action != "confirm":
            context = self.get_context_data(
                form=form,
                preview=preview,
                amount_due=quote.total - quote.points_value,
                carried=self._carried_fields(),
            )
            return render(self.request, self.confirm_template_name, context)
        if recorded.replayed:
            messages.info(self.request, _("This receipt was already recorded; nothing changed."))
        else:
            points = recorded.receipt["points_earned"]
            messages.success(
                self.request,
                ngettext(
                    "Purchase recorded: %(points)s point earned.",
                    "Purchase recorded: %(points)s points earned.",
                    points,
                )
                % {"points": points},
            )
        return redirect("staff:purchase_detail", pk=recorded.record_id)

    def _carried_fields(self) -> list[tuple[str, str]]:
        """The posted values, to post again as hidden fields from the preview:
        the confirmation records exactly what was previewed."""
        skipped = {"csrfmiddlewaretoken", "action"}
        return [
            (name, value)
            for name, values in self.request.POST.lists()
            if name not in skipped
            for value in values
        ]


class PurchasePageMixin(StaffRequiredMixin):
    permission_required: str | tuple[str, ...] = SERVE_COUNTER
    kwargs: dict[str, Any]

    @cached_property
    def purchase(self) -> Purchase:
        return get_object_or_404(
            Purchase.objects.select_related("store", "member", "recorded_by"), pk=self.kwargs["pk"]
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(purchase=self.purchase, **kwargs)


class PurchaseDetailView(PurchasePageMixin, TemplateView):
    template_name = "staff/purchases/purchase_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        purchase = self.purchase
        lines = list(purchase.lines.all())
        receipt = json.loads(purchase.response) if purchase.response else {}
        returns = list(purchase.returns.select_related("recorded_by"))
        # Returns by amount name no items: what is left is money, not only units.
        returned = sum((r.amount for r in returns), Decimal("0.00"))
        return super().get_context_data(
            lines=lines,
            awards=receipt.get("awards", []),
            returns=returns,
            returnable=returned < purchase.total
            and any(line.returned_quantity < line.quantity for line in lines),
            **kwargs,
        )


class PurchaseReturnView(PurchasePageMixin, FormView):
    template_name = "staff/purchases/return_form.html"
    form_class = ReturnForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "purchase": self.purchase}

    def form_valid(self, form: ReturnForm) -> HttpResponse:
        try:
            recorded = purchase_return(
                purchase=self.purchase,
                reference=form.cleaned_data["reference"],
                actor=Actor.from_request(self.request),
                items=form.cleaned_data["items"],
                amount=form.cleaned_data["amount"],
            )
        except DuplicateReference as error:
            form.add_error("reference", error.message)
            return self.form_invalid(form)
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        if recorded.replayed:
            messages.info(self.request, _("This return was already recorded; nothing changed."))
        else:
            receipt = recorded.receipt
            messages.success(
                self.request,
                _(
                    "Return recorded: %(amount)s; %(reversed)s points reversed, "
                    "%(refunded)s points refunded, %(clawback)s points owed as clawback."
                )
                % {
                    "amount": money_format(receipt["amount"]),
                    "reversed": receipt["points_reversed"],
                    "refunded": receipt["points_refunded"],
                    "clawback": receipt["clawback"],
                },
            )
        return redirect("staff:purchase_detail", pk=self.purchase.pk)


# --- Lists of purchases and of the ledger, and their exports ---------------------------------


class PurchaseListMixin(FilteredListMixin):
    """Every store's purchases for managers, their own store's for store staff."""

    permission_required = EXPORT_PERMISSIONS["purchase"]
    filterset_class = PurchaseFilter

    def scoped_queryset(self, store: Store | None) -> QuerySet[Purchase]:
        return purchase_list(store=store)


class PurchaseListView(PurchaseListMixin, FilteredListView):
    template_name = "staff/purchases/purchase_list.html"
    context_object_name = "purchases"


class PurchaseExportView(PurchaseListMixin, FilteredExportView):
    export_kind = "purchase"
    export_name = "purchases"

    def export_rows(self, queryset: QuerySet[Purchase]) -> Iterator[list[Any]]:
        return purchase_export_rows(purchases=queryset)


class LedgerListMixin(FilteredListMixin):
    """Every member's ledger entries for managers; for store staff, the
    entries of their store's purchases, returns and redemptions."""

    permission_required = EXPORT_PERMISSIONS["ledger"]
    filterset_class = LedgerEntryFilter

    def scoped_queryset(self, store: Store | None) -> QuerySet[PointsEntry]:
        return ledger_entry_list(store=store)


class LedgerListView(LedgerListMixin, FilteredListView):
    template_name = "staff/purchases/ledger_list.html"
    context_object_name = "entries"


class LedgerExportView(LedgerListMixin, FilteredExportView):
    export_kind = "ledger"
    export_name = "ledger"

    def export_rows(self, queryset: QuerySet[PointsEntry]) -> Iterator[list[Any]]:
        return ledger_export_rows(entries=queryset)
