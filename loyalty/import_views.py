"""The managers' import pages (loyalty.imports): upload a CSV file, see its
dry run's bad lines, start the real run, follow its progress bar. Both runs
are Celery tasks writing their progress on the ImportJob; the page polls a
small JSON status (static/js/backtest.js, the back-test's progress bar) and,
without JavaScript, reloads itself until the run is over."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, TemplateView

from loyalty.access import StaffRequiredMixin
from loyalty.actors import Actor
from loyalty.errors import DomainError
from loyalty.forms import ImportUploadForm, form_errors_from
from loyalty.imports import ERRORS_KEPT, import_job_create, import_job_start
from loyalty.models import ImportJob, ImportStatus
from loyalty.roles import MANAGE_PROGRAM

RECENT_IMPORTS = 20


class ImportListView(StaffRequiredMixin, FormView):
    permission_required = MANAGE_PROGRAM
    template_name = "staff/loyalty/import_list.html"
    form_class = ImportUploadForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        jobs = ImportJob.objects.select_related("created_by")[:RECENT_IMPORTS]
        return super().get_context_data(jobs=jobs, **kwargs)

    def form_valid(self, form: ImportUploadForm) -> HttpResponse:
        try:
            job = import_job_create(
                actor=Actor.from_request(self.request),
                kind=form.cleaned_data["kind"],
                upload=form.cleaned_data["file"],
                no_points=form.cleaned_data["no_points"],
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        return redirect("staff:import_detail", job.pk)


class _JobMixin(StaffRequiredMixin):
    permission_required = MANAGE_PROGRAM
    kwargs: dict[str, Any]

    @cached_property
    def job(self) -> ImportJob:
        return get_object_or_404(
            ImportJob.objects.select_related("created_by"), pk=self.kwargs["import_id"]
        )


class ImportDetailView(_JobMixin, TemplateView):
    template_name = "staff/loyalty/import_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        job = self.job
        return super().get_context_data(
            job=job,
            pending=job.pending,
            errors_cut=job.errors_count > len(job.errors),
            errors_kept=ERRORS_KEPT,
            **kwargs,
        )


class ImportStartView(_JobMixin, View):
    """POST only: the real run of a checked file."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseRedirect:
        try:
            import_job_start(actor=Actor.from_request(request), job=self.job)
        except DomainError as error:
            messages.error(request, error.message)
        return redirect("staff:import_detail", self.job.pk)


class ImportStatusView(_JobMixin, View):
    """The job's progress as JSON, for static/js/backtest.js."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        job = self.job
        return JsonResponse(
            {
                "status": job.status,
                "status_label": ImportStatus(job.status).label,
                "finished": not job.pending,
                "rows_total": job.rows_total,
                "rows_done": job.rows_done,
                "percent": job.percent,
                "label": _("%(done)s of %(total)s rows")
                % {"done": job.rows_done, "total": job.rows_total},
            }
        )
