"""Console pages about stored SETs: a stream's recent SETs, its accepted and rejected SETs
paged and filtered (and exported with the same filters), one SET in full, one refusal in full."""

from django.core.paginator import Paginator
from django.http import Http404
from django.views import View
from django.views.generic import TemplateView

from common.exports import export_refused, export_response
from common.roles import ConsoleAccessMixin
from events import exports, selectors
from events.forms import AcceptedSetFilterForm, RejectedSetFilterForm
from events.models import RejectedSecurityEvent, SecurityEvent
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


def _accepted_sets(request, stream: Stream | RemovedStream):
    """The accepted-SET filters of the query, and the rows they select (None when invalid):
    one reading for the list and its download."""
    sets = _stream_sets(stream)
    form = AcceptedSetFilterForm(
        request.GET, event_types=selectors.stream_set_event_types(sets=sets)
    )
    if not form.is_valid():
        return form, None
    return form, selectors.stream_sets_filtered(
        sets=sets, **{name: form.cleaned_data[name] for name in ("event_type", "status", "q")}
    )


def _rejected_sets(request, stream: Stream | RemovedStream):
    """The rejected-SET filters of the query, and the rows they select (None when invalid; a
    removed stream's refusals point at no stream any more: none)."""
    form = RejectedSetFilterForm(
        request.GET, errors=selectors.stream_rejection_errors(stream_id=stream.pk)
    )
    if not form.is_valid():
        return form, None
    if not isinstance(stream, Stream):
        return form, RejectedSecurityEvent.objects.none()
    return form, selectors.stream_rejections_filtered(
        stream_id=stream.pk, err=form.cleaned_data["err"], q=form.cleaned_data["q"]
    )


# A download's rows and columns, by the list it downloads.
EXPORTS = {
    "accepted": (_accepted_sets, exports.ACCEPTED),
    "rejected": (_rejected_sets, exports.REJECTED),
}


class StreamEventsExportView(ConsoleAccessMixin, View):
    """A stream's accepted or rejected SETs as CSV or JSON, with the filters of their pages,
    newest first, streamed (removed streams' accepted SETs too)."""

    def get(self, request, pk, which: str, fmt: str):
        if which not in EXPORTS:
            raise Http404("Export accepted or rejected SETs.")
        stream = _stream_or_404(pk)
        select, columns = EXPORTS[which]
        form, rows = select(request, stream)
        if rows is None:
            return export_refused(form)
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


PAGE_SIZE = 50


def _page(request, rows, form):
    """The page asked for, and the other parameters for the pager's links."""
    query = request.GET.copy()
    query.pop("page", None)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return {"page": page, "form": form, "query": query.urlencode()}


class StreamSetListView(ConsoleAccessMixin, TemplateView):
    """A stream's accepted SETs, paged and filtered, with their subjects (removed streams too)."""

    template_name = "events/stream_set_list.html"

    def get_context_data(self, pk, **kwargs):
        stream = _stream_or_404(pk)
        form, rows = _accepted_sets(self.request, stream)
        rows = SecurityEvent.objects.none() if rows is None else rows
        return super().get_context_data(stream=stream, **_page(self.request, rows, form), **kwargs)


class StreamRejectedSetListView(ConsoleAccessMixin, TemplateView):
    """A stream's kept refusals, paged and filtered by error and jti."""

    template_name = "events/stream_rejected_list.html"

    def get_context_data(self, pk, **kwargs):
        stream = _stream_or_404(pk)
        form, rows = _rejected_sets(self.request, stream)
        rows = RejectedSecurityEvent.objects.none() if rows is None else rows
        return super().get_context_data(stream=stream, **_page(self.request, rows, form), **kwargs)


class RejectedSecurityEventDetailView(ConsoleAccessMixin, TemplateView):
    """One refused SET: the body as received, the answer we gave and why."""

    template_name = "events/rejected_security_event_detail.html"

    def get_context_data(self, pk, **kwargs):
        try:
            rejected = selectors.rejected_security_event_get(pk=pk)
        except RejectedSecurityEvent.DoesNotExist as exc:
            raise Http404("No such refused SET (refusals are kept for a while only).") from exc
        answer = {"err": rejected.err, "description": rejected.description}
        return super().get_context_data(rejected=rejected, answer=answer, **kwargs)
