"""Reports > System Log: newest first, filtered, keyset-paginated, each record's JSON at hand,
and the same query downloaded as CSV or JSON."""

from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from common.exports import export_response
from common.roles import ConsoleAccessMixin
from risk import charts, exports, selectors
from risk.forms import SystemLogFilterForm
from risk.models import LogEvent

PAGE_SIZE = 50
BAD_CURSOR = (
    "This page's link is out of date or was changed, so it cannot be continued. "
    "Start again from the first page."
)


def _where(data: dict) -> Q:
    where = Q()
    if data.get("event_type"):
        where &= Q(event_type=data["event_type"])
    if data.get("entity"):
        entity_id = selectors.log_entity_id(data["entity"])
        where &= Q(entity_id=entity_id) | Q(target_id=entity_id)
    if data.get("stream"):
        where &= Q(stream_ref=data["stream"])
    if data.get("outcome"):
        where &= Q(outcome_result=data["outcome"])
    if data.get("trace"):
        where &= Q(trace_id=data["trace"])
    if data.get("q"):
        where &= selectors.log_keyword_query(data["q"])
    return where


class SystemLogView(ConsoleAccessMixin, TemplateView):
    """The System Log, with its count of records over time above the list; htmx "Load more"
    gets only the next rows (a partial)."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if response.context_data["cursor_error"]:
            response.status_code = 400
        return response

    def get_template_names(self):
        if self.request.htmx:
            return ["risk/partials/_log_rows.html"]
        return ["risk/system_log.html"]

    def get_context_data(self, **kwargs):
        form = SystemLogFilterForm(self.request.GET or None)
        records: list = []
        next_cursor = None
        cursor_error = ""
        chart = None
        # A filter we cannot run shows its error, not unfiltered records.
        if not form.is_bound or form.is_valid():
            data = form.cleaned_data if form.is_bound else {}
            try:
                records, next_cursor = selectors.log_events_page(
                    where=_where(data),
                    since=data.get("since"),
                    until=data.get("until"),
                    after=self.request.GET.get("after", ""),
                    limit=PAGE_SIZE,
                )
            except selectors.BadCursor:
                cursor_error = BAD_CURSOR
            if not self.request.htmx:
                chart = charts.log_events_over_time(
                    LogEvent.objects.filter(_where(data)),
                    since=data.get("since"),
                    until=data.get("until"),
                )
        query = self.request.GET.copy()
        query.pop("after", None)
        return super().get_context_data(
            form=form,
            records=records,
            next_cursor=next_cursor,
            cursor_error=cursor_error,
            chart=chart,
            query=query.urlencode(),
            **kwargs,
        )


class SecurityEventTraceView(ConsoleAccessMixin, View):
    """From a SET's page: the System Log records of its processing (one trace id)."""

    def get(self, request, pk):
        trace = selectors.security_event_trace(security_event_id=pk)
        if not trace:
            messages.info(request, "This SET has not been processed yet: it has no records.")
            return redirect("events:security_event_detail", pk=pk)
        return redirect(reverse("risk:system_log") + "?" + urlencode({"trace": trace}))


class SecurityEventEntityView(ConsoleAccessMixin, View):
    """From a SET's page: the entity it was found to speak of."""

    def get(self, request, pk):
        entity_id = selectors.security_event_entity(security_event_id=pk)
        if not entity_id:
            messages.info(request, "No entity in the directory matched this SET's subject.")
            return redirect("events:security_event_detail", pk=pk)
        return redirect("risk:entity_detail", pk=entity_id)


class SystemLogExportView(SystemLogView):
    """The page's query (filters, search, since and until; not its page position) as CSV or
    JSON, newest first, streamed; a query the page would refuse shows the page and its errors."""

    def get(self, request, *args, fmt: str = "", **kwargs):
        form = SystemLogFilterForm(request.GET or None)
        if form.is_bound and not form.is_valid():
            response = super().get(request, *args, **kwargs)
            response.status_code = 400
            return response
        data = form.cleaned_data if form.is_bound else {}
        records = selectors.log_events_query(
            where=_where(data), since=data.get("since"), until=data.get("until")
        )
        return export_response(
            fmt=fmt,
            filename="system-log",
            columns=exports.LOG,
            queryset=records.order_by("-published", "-id"),
        )
