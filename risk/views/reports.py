"""Reports > Entity risk: the report, one entity's risk history, setting the risk by hand."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import TemplateView

from common.roles import ConsoleAccessMixin
from risk import selectors
from risk.forms import ReportFilterForm, RiskSetForm
from risk.models import Entity, RiskLevel
from risk.services.entity_risk import entity_risk_set

PAGE_SIZE = 50


class EntityRiskReportView(ConsoleAccessMixin, TemplateView):
    """Totals, charts and the entities at risk; every filter lives in the URL."""

    template_name = "risk/entity_risk_report.html"

    def get_context_data(self, **kwargs):
        form = ReportFilterForm(self.request.GET or None)
        data = form.cleaned_data if form.is_valid() else {}
        filters = selectors.ReportFilters(**{k: v or "" for k, v in data.items()})
        filters.range = filters.range or "7d"
        page = Paginator(selectors.entities_at_risk(filters=filters), PAGE_SIZE).get_page(
            self.request.GET.get("page")
        )
        query = self.request.GET.copy()
        query.pop("page", None)
        return super().get_context_data(
            form=form,
            report=selectors.entity_risk_report(filters=filters),
            page=page,
            stream_names=selectors.stream_names(),
            query=query.urlencode(),
            **kwargs,
        )


class EntityDetailView(ConsoleAccessMixin, TemplateView):
    """One entity: current risk, its history with the SETs behind each change, the actions."""

    template_name = "risk/entity_detail.html"

    def get_context_data(self, pk, **kwargs):
        entity = get_object_or_404(Entity.objects.prefetch_related("groups", "identifiers"), pk=pk)
        return super().get_context_data(
            entity=entity,
            history=selectors.entity_risk_history(entity=entity),
            stream_names=selectors.stream_names(),
            risk_form=RiskSetForm(initial={"level": RiskLevel.HIGH}),
            **kwargs,
        )


class EntityRiskSetView(ConsoleAccessMixin, View):
    """A super admin sets or resets an entity's risk (logged, and the policy runs)."""

    def post(self, request, pk):
        entity = get_object_or_404(Entity, pk=pk)
        form = RiskSetForm(request.POST)
        if form.is_valid():
            level = RiskLevel(form.cleaned_data["level"])
            change = entity_risk_set(
                entity=entity, level=level, actor=request.user, reason=form.cleaned_data["reason"]
            )
            if change is None:
                messages.info(request, f"{entity.label} already has risk {level.label}.")
            else:
                messages.success(request, f"Risk of {entity.label} set to {level.label}.")
        else:
            messages.error(request, "Choose a risk level.")
        return redirect("risk:entity_detail", pk=entity.pk)
