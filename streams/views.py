"""The "Receive shared signals" console pages: thin views over streams.services/selectors."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from common.roles import ConsoleAccessMixin
from streams import selectors, services
from streams.discovery import DiscoveryError
from streams.forms import StreamForm
from streams.models import ConfigMethod, Stream


def _run_service(form: StreamForm, service, **kwargs):
    """Call a stream service; its refusal becomes the form's errors and the result is None."""
    try:
        return service(**form.service_kwargs(), **kwargs)
    except ValidationError as exc:
        form.add_error(None, exc)
    except DiscoveryError as exc:
        form.add_error(None, str(exc))
    return None


class StreamListView(ConsoleAccessMixin, TemplateView):
    """Security > Device Integrations > Receive shared signals: the streams and their actions."""

    template_name = "streams/stream_list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(streams=selectors.stream_list(), **kwargs)


class StreamAddView(ConsoleAccessMixin, View):
    """Add a stream: validated against the transmitter on Save, saved Active or not at all."""

    super_admin_only = True
    template_name = "streams/stream_form.html"

    def get(self, request):
        return render(request, self.template_name, {"form": StreamForm(), "adding": True})

    def post(self, request):
        form = StreamForm(request.POST)
        stream = form.is_valid() and _run_service(form, services.stream_create, actor=request.user)
        if not stream:
            return render(request, self.template_name, {"form": form, "adding": True}, status=400)
        messages.success(request, f"Stream {stream.name!r} added. It is Active.")
        return redirect("streams:stream_list")


class StreamEditView(ConsoleAccessMixin, View):
    """Edit a stream; the transmitter is revalidated exactly as when adding."""

    super_admin_only = True
    template_name = "streams/stream_form.html"

    def get(self, request, pk):
        stream = get_object_or_404(Stream, pk=pk)
        form = StreamForm(
            initial={
                "name": stream.name,
                "config_method": stream.config_method,
                "well_known_url": stream.well_known_url,
                "issuer": stream.issuer
                if stream.config_method != ConfigMethod.WELL_KNOWN_URL
                else "",
                "jwks_url": stream.jwks_url
                if stream.config_method != ConfigMethod.WELL_KNOWN_URL
                else "",
                "strict_claims": stream.strict_claims,
            }
        )
        return render(request, self.template_name, {"form": form, "stream": stream})

    def post(self, request, pk):
        stream = get_object_or_404(Stream, pk=pk)
        form = StreamForm(request.POST)
        saved = form.is_valid() and _run_service(
            form, services.stream_update, stream=stream, actor=request.user
        )
        if not saved:
            stream.refresh_from_db()
            return render(request, self.template_name, {"form": form, "stream": stream}, status=400)
        messages.success(request, f"Stream {saved.name!r} saved.")
        return redirect("streams:stream_detail", pk=saved.pk)


class StreamDetailView(ConsoleAccessMixin, TemplateView):
    """One stream: configuration, transmitter metadata, keys, what to give the transmitter."""

    template_name = "streams/stream_detail.html"

    def get_context_data(self, pk, **kwargs):
        stream = get_object_or_404(Stream, pk=pk)
        return super().get_context_data(
            stream=stream,
            keys=selectors.stream_signing_keys(stream=stream),
            changes=selectors.stream_changes(stream=stream),
            push_endpoint=settings.SITE_URL + reverse("events:security_event_push"),
            audience=settings.RECEIVER_AUDIENCE,
            **kwargs,
        )


class _StreamStatusView(ConsoleAccessMixin, View):
    """POST only: change the status; htmx gets the row back, a plain request a redirect."""

    service = None
    done = ""

    def post(self, request, pk):
        stream = get_object_or_404(Stream, pk=pk)
        type(self).service(stream=stream, actor=request.user)
        if request.htmx:
            return render(request, "streams/partials/_stream_row.html", {"stream": stream})
        messages.success(request, f"Stream {stream.name!r} {self.done}.")
        return redirect(request.POST.get("next") or "streams:stream_list")


class StreamActivateView(_StreamStatusView):
    service = services.stream_activate
    done = "activated"


class StreamDeactivateView(_StreamStatusView):
    service = services.stream_deactivate
    done = "deactivated; its SETs are refused until it is activated"


class StreamRemoveView(ConsoleAccessMixin, View):
    """Remove a stream after a confirmation page (GET shows it, POST removes)."""

    super_admin_only = True

    def get(self, request, pk):
        stream = get_object_or_404(Stream, pk=pk)
        return render(request, "streams/stream_confirm_delete.html", {"stream": stream})

    def post(self, request, pk):
        stream = get_object_or_404(Stream, pk=pk)
        name = stream.name
        services.stream_delete(stream=stream, actor=request.user)
        messages.success(request, f"Stream {name!r} removed.")
        return redirect("streams:stream_list")


class StreamPushSecretView(ConsoleAccessMixin, View):
    """Generate (or rotate) the push authorization secret, shown once; or remove it."""

    def post(self, request, pk):
        stream = get_object_or_404(Stream, pk=pk)
        if request.POST.get("action") == "clear":
            services.stream_push_secret_clear(stream=stream, actor=request.user)
            messages.success(request, "Pushes no longer need an Authorization header.")
            return redirect("streams:stream_detail", pk=stream.pk)
        secret = services.stream_push_secret_rotate(stream=stream, actor=request.user)
        return render(
            request, "streams/stream_push_secret.html", {"stream": stream, "secret": secret}
        )
