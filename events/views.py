"""Console pages about stored SETs: a stream's recent SETs and their exports, and one SET in
full."""

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.views import View
from django.views.generic import TemplateView

from common.exports import export_refused, export_response
from common.roles import ConsoleAccessMixin
from events import exports, selectors
from events.forms import StreamEventsExportForm
from events.models import SecurityEvent
from streams.models import Stream


class StreamEventsView(ConsoleAccessMixin, TemplateView):
    """A stream's SETs: counts, the last received and the last rejected (htmx partial or page)."""

    def get_template_names(self):
        if self.request.htmx:
            return ["events/partials/_stream_events.html"]
        return ["events/stream_events.html"]

    def get_context_data(self, pk, **kwargs):
        stream = get_object_or_404(Stream, pk=pk)
        return super().get_context_data(
            stream=stream,
            summary=selectors.stream_ingest_summary(stream_id=stream.pk),
            rejections_by_error=selectors.stream_rejections_by_error(stream_id=stream.pk),
            rejections_dropped=selectors.stream_rejections_dropped(stream_id=stream.pk),
            recent_events=selectors.stream_recent_events(stream_id=stream.pk),
            recent_rejections=selectors.stream_recent_rejections(stream_id=stream.pk),
            **kwargs,
        )


class StreamEventsExportView(ConsoleAccessMixin, View):
    """A stream's accepted (`status`, `event_type`) or rejected (`err`) SETs as CSV or JSON,
    newest first, streamed."""

    def get(self, request, pk, which: str, fmt: str):
        stream = get_object_or_404(Stream, pk=pk)
        form = StreamEventsExportForm(request.GET)
        if not form.is_valid():
            return export_refused(form)
        data = form.cleaned_data
        rows: QuerySet[Any]
        if which == "accepted":
            columns = exports.ACCEPTED
            rows = selectors.stream_events_export(
                stream_id=stream.pk, status=data["status"], event_type=data["event_type"]
            )
        elif which == "rejected":
            columns = exports.REJECTED
            rows = selectors.stream_rejections_export(stream_id=stream.pk, err=data["err"])
        else:
            raise Http404("Export accepted or rejected SETs.")
        return export_response(
            fmt=fmt, filename=f"stream-{stream.pk}-{which}-sets", columns=columns, queryset=rows
        )


class SecurityEventDetailView(ConsoleAccessMixin, TemplateView):
    """One stored SET: the raw token, its header and claims, and how it was verified."""

    template_name = "events/security_event_detail.html"

    def get_context_data(self, pk, **kwargs):
        try:
            event = selectors.security_event_get(pk=pk)
        except SecurityEvent.DoesNotExist as exc:
            raise Http404("No such SET.") from exc
        return super().get_context_data(event=event, **kwargs)
