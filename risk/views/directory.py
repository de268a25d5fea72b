"""Directory > People: users and devices, added one by one or imported from CSV, and exported."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import TemplateView

from common.exports import export_refused, export_response
from common.roles import ConsoleAccessMixin
from risk import exports, selectors
from risk.forms import CsvImportForm, EntityForm, EntitySearchForm
from risk.models import Entity
from risk.services.directory import entities_import_csv, entity_create

PAGE_SIZE = 50


class EntityListView(ConsoleAccessMixin, TemplateView):
    template_name = "risk/entity_list.html"

    def get_context_data(self, **kwargs):
        search = EntitySearchForm(self.request.GET)
        if search.is_valid():
            q = search.cleaned_data["q"]
            entities = selectors.entity_list(q=q)
        else:
            q, entities = "", Entity.objects.none()
        page = Paginator(entities, PAGE_SIZE).get_page(self.request.GET.get("page"))
        query = urlencode({"q": q}) if q else ""
        return super().get_context_data(page=page, q=q, query=query, **kwargs)


class EntityExportView(ConsoleAccessMixin, View):
    """The directory (searched as the page is) as CSV or JSON, streamed."""

    def get(self, request, fmt: str):
        search = EntitySearchForm(request.GET)
        if not search.is_valid():
            return export_refused(search)
        return export_response(
            fmt=fmt,
            filename="directory",
            columns=exports.DIRECTORY,
            queryset=selectors.entity_export(q=search.cleaned_data["q"]),
        )


class EntityAddView(ConsoleAccessMixin, View):
    super_admin_only = True
    template_name = "risk/entity_form.html"

    def get(self, request):
        return render(request, self.template_name, {"form": EntityForm()})

    def post(self, request):
        form = EntityForm(request.POST)
        if form.is_valid():
            try:
                entity = entity_create(**form.service_kwargs(), actor=request.user)
                messages.success(request, f"{entity.label} added.")
                return redirect("risk:entity_detail", pk=entity.pk)
            except ValidationError as exc:
                form.add_error(None, exc)
        return render(request, self.template_name, {"form": form}, status=400)


class EntityImportView(ConsoleAccessMixin, View):
    super_admin_only = True
    template_name = "risk/entity_import.html"

    def get(self, request):
        return render(request, self.template_name, {"form": CsvImportForm()})

    def post(self, request):
        form = CsvImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form}, status=400)
        result = entities_import_csv(text=form.cleaned_data["file"], actor=request.user)
        return render(request, self.template_name, {"form": CsvImportForm(), "result": result})
