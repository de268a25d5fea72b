"""Reports > Entity risk: the report and its CSV and JSON exports, one entity's detections and
history, and an admin's changes (set a level, dismiss a detection, reset), each confirmed first."""

from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from common.exports import export_response
from common.roles import ConsoleAccessMixin
from risk import exports, selectors
from risk.forms import DismissForm, ReportFilterForm, RiskSetForm
from risk.models import Entity, RiskLevel
from risk.services.entity_risk import (
    AdminRiskAction,
    DetectionNotActive,
    entity_risk_admin_change,
    entity_risk_admin_preview,
)

PAGE_SIZE = 50
# The report's lists: its name in the URL (`view`), its title, and the selector behind it.
REPORT_LISTS = {
    "detections": ("Detections", selectors.report_detections),
    "entities": ("Entities at risk", selectors.entities_at_risk),
    "rules": ("Policy rules triggered", selectors.report_rule_triggers),
    "log": ("System Log", selectors.report_log_events),
}


def _report_filters(request) -> tuple[ReportFilterForm, selectors.ReportFilters]:
    form = ReportFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    # Text filters default to "", the times to None.
    values: dict[str, Any] = {k: v if k in ("since", "until") else v or "" for k, v in data.items()}
    filters = selectors.ReportFilters(**values)
    filters.range = filters.range or "7d"
    return form, filters


class EntityRiskReportView(ConsoleAccessMixin, TemplateView):
    """Okta's entity risk report: figures that link to the lists behind them, two charts, and
    one list (`view`) of detections, entities at risk, rules triggered or System Log records;
    every filter lives in the URL."""

    template_name = "risk/entity_risk_report.html"

    def get_context_data(self, **kwargs):
        form, filters = _report_filters(self.request)
        view = self.request.GET.get("view", "")
        view = view if view in REPORT_LISTS else "detections"
        title, select = REPORT_LISTS[view]
        page = Paginator(select(filters=filters), PAGE_SIZE).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)
        filters_query = query.copy()
        for name in ("view", "level", "action"):
            filters_query.pop(name, None)
        return super().get_context_data(
            form=form,
            report=selectors.entity_risk_report(filters=filters),
            view=view,
            lists={name: name_title for name, (name_title, _select) in REPORT_LISTS.items()},
            list_title=title,
            page=page,
            stream_names=selectors.stream_names(),
            query=query.urlencode(),
            filters_query=filters_query.urlencode(),
            **kwargs,
        )


class EntityRiskExportView(ConsoleAccessMixin, View):
    """One of the report's lists as CSV or JSON, with the report's filters, streamed."""

    def get(self, request, view: str, fmt: str):
        if view not in REPORT_LISTS:
            return redirect("risk:entity_risk_report")
        _form, filters = _report_filters(request)
        return export_response(
            fmt=fmt,
            filename=f"entity-risk-{view}",
            columns=exports.report_columns(view, selectors.stream_names()),
            queryset=REPORT_LISTS[view][1](filters=filters),
        )


class EntityDetailView(ConsoleAccessMixin, TemplateView):
    """One entity: its risk, its active and past detections (source, kind, level, since,
    expires, the SET, why), its risk history with the actions taken."""

    template_name = "risk/entity_detail.html"

    def get_context_data(self, pk, **kwargs):
        entity = get_object_or_404(Entity.objects.prefetch_related("groups", "identifiers"), pk=pk)
        active, past = selectors.entity_detections(entity=entity)
        return super().get_context_data(
            entity=entity,
            active=active,
            past=past,
            history=selectors.entity_risk_history(entity=entity),
            stream_names=selectors.stream_names(),
            risk_form=RiskSetForm(),
            dismiss_form=DismissForm(),
            **kwargs,
        )


class _AdminRiskView(ConsoleAccessMixin, View):
    """POST: the confirmation page (the level it leads to, the detections it dismisses, the
    policy actions that will run); POST again with `confirmed=yes`: the change itself."""

    form_class: ClassVar[type[forms.Form]]

    def admin_action(self, form: forms.Form, **kwargs) -> AdminRiskAction:
        raise NotImplementedError

    def title(self, entity: Entity, action: AdminRiskAction) -> str:
        raise NotImplementedError

    def post(self, request, pk, **kwargs):
        entity = get_object_or_404(Entity, pk=pk)
        form = self.form_class(request.POST)
        back = redirect("risk:entity_detail", pk=entity.pk)
        if not form.is_valid():
            for name, errors in form.errors.items():
                label = form[name].label if name in form.fields else "The form"
                messages.error(request, f"{label}: {' '.join(errors)}")
            return back
        action = self.admin_action(form, **kwargs)
        try:
            if request.POST.get("confirmed") != "yes":
                preview = entity_risk_admin_preview(entity=entity, request=action)
                context = {
                    "entity": entity,
                    "title": self.title(entity, action),
                    "preview": preview,
                    "stream_names": selectors.stream_names(),
                    "fields": {name: value for name, value in form.cleaned_data.items() if value},
                    "cancel_url": reverse("risk:entity_detail", args=[entity.pk]),
                }
                return render(request, "risk/entity_risk_confirm.html", context)
            change = entity_risk_admin_change(entity=entity, request=action, actor=request.user)
        except DetectionNotActive as exc:
            messages.error(request, str(exc))
            return back
        if change is None:
            messages.info(request, f"The risk of {entity.label} stays {entity.risk_choice.label}.")
        else:
            messages.success(request, f"The risk of {entity.label} is now {change.level}.")
        return back


class EntityRiskSetView(_AdminRiskView):
    """A super admin sets a level (an admin-reported detection; Low reviews the entity)."""

    form_class = RiskSetForm

    def admin_action(self, form, **kwargs):
        return AdminRiskAction(
            AdminRiskAction.SET,
            level=RiskLevel(form.cleaned_data["level"]),
            reason=form.cleaned_data["reason"],
        )

    def title(self, entity, action):
        return f"Set the risk of {entity.label} to {action.level}?"


class DetectionDismissView(_AdminRiskView):
    """A super admin dismisses one active detection, with a reason."""

    form_class = DismissForm

    def admin_action(self, form, **kwargs):
        return AdminRiskAction(
            AdminRiskAction.DISMISS,
            detection_id=kwargs["detection_pk"],
            reason=form.cleaned_data["reason"],
        )

    def title(self, entity, action):
        return f"Dismiss a detection of {entity.label}?"


class EntityRiskResetView(_AdminRiskView):
    """A super admin resets an entity: every active detection dismissed, with a reason."""

    form_class = DismissForm

    def admin_action(self, form, **kwargs):
        return AdminRiskAction(AdminRiskAction.RESET, reason=form.cleaned_data["reason"])

    def title(self, entity, action):
        return f"Reset the risk of {entity.label}?"
