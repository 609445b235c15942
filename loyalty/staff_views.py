"""Back-office pages of the platform: home, program settings, stores, API keys, audit log."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, ListView, TemplateView
from django_filters.views import FilterView

from loyalty.access import StaffRequiredMixin
from loyalty.actors import Actor
from loyalty.errors import DomainError
from loyalty.filters import AuditEventFilter
from loyalty.forms import (
    ApiKeyCreateForm,
    ProgramSettingsForm,
    StaffUserCreateForm,
    StaffUserUpdateForm,
    StoreCreateForm,
    StoreUpdateForm,
    form_errors_from,
)
from loyalty.models import ApiKey, Store
from loyalty.roles import MANAGE_PROGRAM, VIEW_AUDIT_LOG, Role, user_roles
from loyalty.selectors import (
    api_key_list,
    audit_event_list,
    program_settings_get,
    staff_user_list,
    store_list,
)
from loyalty.services import (
    api_key_create,
    api_key_revoke,
    program_settings_update,
    staff_user_create,
    staff_user_update,
    store_create,
    store_update,
)


class StaffHomeView(StaffRequiredMixin, TemplateView):
    template_name = "staff/home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["roles"] = user_roles(self.request.user)
        context["program"] = program_settings_get()
        context["stores"] = store_list(active_only=True)
        return context


class ProgramSettingsView(StaffRequiredMixin, FormView):
    permission_required = MANAGE_PROGRAM
    template_name = "staff/loyalty/programsettings_form.html"
    form_class = ProgramSettingsForm

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["instance"] = program_settings_get()
        return kwargs

    def form_valid(self, form: ProgramSettingsForm) -> HttpResponse:
        try:
            program_settings_update(actor=Actor.from_request(self.request), **form.cleaned_data)
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("Program settings saved."))
        return redirect("staff:program")


class StoreListView(StaffRequiredMixin, ListView):
    permission_required = MANAGE_PROGRAM
    template_name = "staff/loyalty/store_list.html"
    context_object_name = "stores"
    paginate_by = 50

    def get_queryset(self) -> Any:
        return store_list()


class StoreCreateView(StaffRequiredMixin, FormView):
    permission_required = MANAGE_PROGRAM
    template_name = "staff/loyalty/store_form.html"
    form_class = StoreCreateForm

    def form_valid(self, form: StoreCreateForm) -> HttpResponse:
        try:
            store = store_create(actor=Actor.from_request(self.request), **form.cleaned_data)
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("Store %(name)s created.") % {"name": store.name})
        return redirect("staff:store_list")


class StoreUpdateView(StaffRequiredMixin, FormView):
    permission_required = MANAGE_PROGRAM
    template_name = "staff/loyalty/store_form.html"
    form_class = StoreUpdateForm

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.store = get_object_or_404(Store, code=kwargs["code"])
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["instance"] = Store.objects.get(pk=self.store.pk)
        return kwargs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(store=self.store, **kwargs)

    def form_valid(self, form: StoreUpdateForm) -> HttpResponse:
        try:
            store_update(
                actor=Actor.from_request(self.request), store=self.store, **form.cleaned_data
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request, _("Store %(name)s saved.") % {"name": form.cleaned_data["name"]}
        )
        return redirect("staff:store_list")


class ApiKeyListView(StaffRequiredMixin, ListView):
    permission_required = MANAGE_PROGRAM
    template_name = "staff/loyalty/apikey_list.html"
    context_object_name = "api_keys"
    paginate_by = 50

    def get_queryset(self) -> Any:
        return api_key_list()


class ApiKeyCreateView(StaffRequiredMixin, FormView):
    permission_required = MANAGE_PROGRAM
    template_name = "staff/loyalty/apikey_form.html"
    form_class = ApiKeyCreateForm

    def form_valid(self, form: ApiKeyCreateForm) -> HttpResponse:
        try:
            issued = api_key_create(actor=Actor.from_request(self.request), **form.cleaned_data)
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        # The key is rendered once, in this response, and never stored.
        response = render(
            self.request,
            "staff/loyalty/apikey_created.html",
            {"api_key": issued.api_key, "key": issued.key},
        )
        response["Cache-Control"] = "no-store"
        return response


class ApiKeyRevokeView(StaffRequiredMixin, View):
    permission_required = MANAGE_PROGRAM

    def post(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        api_key = get_object_or_404(ApiKey, pk=pk)
        api_key_revoke(actor=Actor.from_request(request), api_key=api_key)
        messages.success(request, _("API key %(name)s revoked.") % {"name": api_key.name})
        return redirect(reverse("staff:api_key_list"))


class StaffUserListView(StaffRequiredMixin, ListView):
    permission_required = MANAGE_PROGRAM
    template_name = "staff/loyalty/staffuser_list.html"
    context_object_name = "staff_users"
    paginate_by = 50

    def get_queryset(self) -> Any:
        return staff_user_list()


class StaffUserCreateView(StaffRequiredMixin, FormView):
    permission_required = MANAGE_PROGRAM
    template_name = "staff/loyalty/staffuser_form.html"
    form_class = StaffUserCreateForm

    def form_valid(self, form: StaffUserCreateForm) -> HttpResponse:
        try:
            user = staff_user_create(
                actor=Actor.from_request(self.request),
                email=form.cleaned_data["email"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                role=Role(form.cleaned_data["role"]),
                store=form.cleaned_data["store"],
                invite_url=self.request.build_absolute_uri("/"),
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request,
            _("%(email)s was added and emailed a link to choose a password.")
            % {"email": user.email},
        )
        return redirect("staff:staff_user_list")


class StaffUserUpdateView(StaffRequiredMixin, FormView):
    permission_required = MANAGE_PROGRAM
    template_name = "staff/loyalty/staffuser_form.html"
    form_class = StaffUserUpdateForm

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.staff_user = get_object_or_404(staff_user_list(), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self) -> dict[str, Any]:
        roles = user_roles(self.staff_user)
        return {
            "first_name": self.staff_user.first_name,
            "last_name": self.staff_user.last_name,
            "role": roles[0].value if roles else None,
            "is_active": self.staff_user.is_active,
            "store": self.staff_user.store_id,
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(staff_user=self.staff_user, **kwargs)

    def form_valid(self, form: StaffUserUpdateForm) -> HttpResponse:
        try:
            staff_user_update(
                actor=Actor.from_request(self.request),
                user=self.staff_user,
                role=Role(form.cleaned_data["role"]),
                is_active=form.cleaned_data["is_active"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                store=form.cleaned_data["store"],
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("%(email)s saved.") % {"email": self.staff_user.email})
        return redirect("staff:staff_user_list")


class AuditEventListView(StaffRequiredMixin, FilterView):
    permission_required = VIEW_AUDIT_LOG
    template_name = "staff/loyalty/auditevent_list.html"
    filterset_class = AuditEventFilter
    context_object_name = "events"
    paginate_by = 50

    def get_queryset(self) -> Any:
        return audit_event_list()
