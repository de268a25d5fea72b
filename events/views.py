"""Console pages about stored SETs: a stream's recent SETs, and one SET in full."""

from django.http import Http404
from django.views.generic import TemplateView

from common.roles import ConsoleAccessMixin
from events import selectors
from events.models import SecurityEvent
from streams.models import Stream
from streams.selectors import RemovedStream, stream_or_removed


def _stream_or_404(pk: str) -> Stream | RemovedStream:
    try:
        return stream_or_removed(stream_id=pk)
    except Stream.DoesNotExist as exc:
        raise Http404("No such stream.") from exc


def _stream_sets(stream: Stream | RemovedStream):
    removed_key = stream.issuer_key if isinstance(stream, RemovedStream) else ""
    return selectors.stream_sets(stream_id=stream.pk, removed_issuer_key=removed_key)


class StreamEventsView(ConsoleAccessMixin, TemplateView):
    """A stream's SETs: counts, the last received and the last rejected (htmx partial or page)."""

    def get_template_names(self):
        if self.request.htmx:
            return ["events/partials/_stream_events.html"]
        return ["events/stream_events.html"]

    def get_context_data(self, pk, **kwargs):
        stream = _stream_or_404(pk)
        sets = _stream_sets(stream)
        context = {
            "stream": stream,
            "summary": selectors.stream_ingest_summary(sets=sets),
            "recent_events": selectors.stream_recent_events(sets=sets),
        }
        # A removed stream's refusals point at no stream any more: none to show.
        if isinstance(stream, Stream):
            context |= {
                "rejections_by_error": selectors.stream_rejections_by_error(stream_id=pk),
                "rejections_dropped": selectors.stream_rejections_dropped(stream_id=pk),
                "recent_rejections": selectors.stream_recent_rejections(stream_id=pk),
            }
        return super().get_context_data(**context, **kwargs)


class SecurityEventDetailView(ConsoleAccessMixin, TemplateView):
    """One stored SET: the raw token, its header and claims, and how it was verified."""

    template_name = "events/security_event_detail.html"

    def get_context_data(self, pk, **kwargs):
        try:
            event = selectors.security_event_get(pk=pk)
        except SecurityEvent.DoesNotExist as exc:
            raise Http404("No such SET.") from exc
        return super().get_context_data(event=event, **kwargs)
