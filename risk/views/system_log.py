"""Reports > System Log: newest first, filtered, keyset-paginated, each record's JSON at hand,
and the same query downloaded as CSV or JSON."""

from django.db.models import Q
from django.views.generic import TemplateView

from common.exports import export_response
from common.roles import ConsoleAccessMixin
from risk import exports, selectors
from risk.forms import SystemLogFilterForm

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
        where &= Q(entity_id=data["entity"]) | Q(target_id=data["entity"])
    if data.get("stream"):
        where &= Q(stream_ref=data["stream"])
    if data.get("outcome"):
        where &= Q(outcome_result=data["outcome"])
    if data.get("q"):
        where &= selectors.log_keyword_query(data["q"])
    return where


class SystemLogView(ConsoleAccessMixin, TemplateView):
    """The System Log; htmx "Load more" gets only the next rows (a partial)."""

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
        query = self.request.GET.copy()
        query.pop("after", None)
        return super().get_context_data(
            form=form,
            records=records,
            next_cursor=next_cursor,
            cursor_error=cursor_error,
            query=query.urlencode(),
            **kwargs,
        )


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
