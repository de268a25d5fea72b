"""The "Receive shared signals" console pages: thin views over streams.services/selectors."""

from collections.abc import Callable
from typing import ClassVar

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from common.roles import ConsoleAccessMixin
from common.views import render_secret_once
from streams import selectors, services, stream_management
from streams.discovery import DiscoveryError, stated_issuer
from streams.forms import ManagedStreamEditForm, ManagedStreamForm, StreamForm, SubjectForm
from streams.models import ConfigMethod, Stream, StreamSubject
from streams.ssf_client import ManagementError


def _try(request, service, **kwargs):
    """Run a call to the transmitter; its failure becomes an error message (and is recorded)."""
    try:
        return service(**kwargs)
    except ManagementError as exc:
        messages.error(request, f"The transmitter did not do it: {exc}")
    return None


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
        return render(request, self.template_name, {"form": ManagedStreamForm(), "adding": True})

    def post(self, request):
        form = ManagedStreamForm(request.POST)
        stream = form.is_valid() and _run_service(form, services.stream_create, actor=request.user)
        if not stream:
            return render(request, self.template_name, {"form": form, "adding": True}, status=400)
        messages.success(request, f"Stream {stream.name!r} added. It is Active.")
        management = getattr(stream, "management", None)
        chosen = form.cleaned_data.get("events_requested") or []
        if management is not None and set(management.events_requested) != set(chosen):
            left_out = ", ".join(sorted(set(chosen) - set(management.events_requested)))
            messages.warning(request, f"The transmitter does not offer, so was not asked for: "
                                      f"{left_out}.")  # fmt: skip
        return redirect("streams:stream_list")


def _edit_form_class(stream: Stream):
    return ManagedStreamEditForm if hasattr(stream, "management") else StreamForm


class StreamEditView(ConsoleAccessMixin, View):
    """Edit a stream; the transmitter is revalidated exactly as when adding. A stream we manage
    is read from the transmitter first and updated (PATCH) or replaced (PUT) there on Save."""

    super_admin_only = True
    template_name = "streams/stream_form.html"

    def get(self, request, pk):
        stream = get_object_or_404(Stream.objects.select_related("management"), pk=pk)
        initial = {
            "name": stream.name,
            "config_method": stream.config_method,
            "well_known_url": stream.well_known_url,
            "strict_claims": stream.strict_claims,
        }
        if stream.config_method != ConfigMethod.WELL_KNOWN_URL:
            initial |= {"issuer": stream.issuer, "jwks_url": stream.jwks_url}
        else:
            initial["expected_issuer"] = stated_issuer(stream.well_known_url, stream.issuer)
        if hasattr(stream, "management"):
            initial["events_requested"] = stream.management.events_requested
        form = _edit_form_class(stream)(initial=initial)
        return render(request, self.template_name, {"form": form, "stream": stream})

    def post(self, request, pk):
        stream = get_object_or_404(Stream.objects.select_related("management"), pk=pk)
        form = _edit_form_class(stream)(request.POST)
        saved = form.is_valid() and _run_service(
            form, services.stream_update, stream=stream, actor=request.user
        )
        if not saved:
            stream.refresh_from_db()
            return render(request, self.template_name, {"form": form, "stream": stream}, status=400)
        if hasattr(saved, "management"):
            try:
                stream_management.stream_remote_change(
                    stream=saved,
                    events_requested=form.cleaned_data["events_requested"],
                    replace=form.cleaned_data["replace_at_transmitter"],
                    actor=request.user,
                )
            except ManagementError as exc:
                messages.warning(
                    request,
                    f"Stream {saved.name!r} saved here, but the transmitter did not take the "
                    f"change: {exc}",
                )
                return redirect("streams:stream_detail", pk=saved.pk)
        messages.success(request, f"Stream {saved.name!r} saved.")
        return redirect("streams:stream_detail", pk=saved.pk)


class StreamDetailView(ConsoleAccessMixin, TemplateView):
    """One stream: configuration, transmitter metadata, keys, what to give the transmitter."""

    template_name = "streams/stream_detail.html"

    def get_context_data(self, pk, **kwargs):
        stream = get_object_or_404(Stream.objects.select_related("management"), pk=pk)
        return super().get_context_data(
            stream=stream,
            management=getattr(stream, "management", None),
            subjects=stream.subjects.all(),
            subject_form=SubjectForm(),
            keys=selectors.stream_signing_keys(stream=stream),
            changes=selectors.stream_changes(stream=stream),
            push_endpoint=settings.SITE_URL + reverse("events:security_event_push"),
            audience=settings.RECEIVER_AUDIENCE,
            **kwargs,
        )


class _StreamStatusView(ConsoleAccessMixin, View):
    """POST only: change the status; htmx gets the row back, a plain request a redirect."""

    service: ClassVar[Callable[..., Stream]]
    done = ""

    def post(self, request, pk):
        stream = get_object_or_404(Stream, pk=pk)
        type(self).service(stream=stream, actor=request.user)
        if request.htmx:
            return render(request, "streams/partials/_stream_row.html", {"stream": stream})
        messages.success(request, f"Stream {stream.name!r} {self.done}.")
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("streams:stream_list")
        return redirect(target)


class StreamActivateView(_StreamStatusView):
    service = services.stream_activate
    done = "activated"


class StreamDeactivateView(_StreamStatusView):
    service = services.stream_deactivate
    done = "deactivated; its SETs are refused until it is activated"


class StreamRemoveView(ConsoleAccessMixin, View):
    """Remove a stream after a confirmation page (GET shows it, POST removes); a stream we
    manage is deleted at the transmitter too unless the admin unticks it."""

    super_admin_only = True
    template_name = "streams/stream_confirm_delete.html"

    def get(self, request, pk):
        stream = get_object_or_404(Stream, pk=pk)
        return render(request, self.template_name, {"stream": stream})

    def post(self, request, pk):
        stream = get_object_or_404(Stream.objects.select_related("management"), pk=pk)
        name = stream.name
        try:
            services.stream_delete(
                stream=stream,
                at_transmitter=bool(request.POST.get("at_transmitter")),
                actor=request.user,
            )
        except ManagementError as exc:
            messages.error(request, f"The transmitter did not delete the stream: {exc}")
            return render(request, self.template_name, {"stream": stream}, status=502)
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
        return render_secret_once(
            request, "streams/stream_push_secret.html", {"stream": stream, "secret": secret}
        )


class _ManagedStreamActionView(ConsoleAccessMixin, View):
    """POST only: one call to the transmitter about a stream we manage, then back to its page."""

    def post(self, request, pk):
        stream = get_object_or_404(Stream.objects.select_related("management"), pk=pk)
        if not hasattr(stream, "management"):
            messages.error(request, "This stream is not managed at the transmitter.")
        else:
            done = _try(request, self.act, stream=stream)
            if done:
                messages.success(request, done)
        return redirect("streams:stream_detail", pk=stream.pk)

    def act(self, *, stream) -> str:
        """Do the call; return the success message (ManagementError on failure)."""
        raise NotImplementedError


class StreamRemoteRefreshView(_ManagedStreamActionView):
    """Read the stream and its status at the transmitter."""

    def act(self, *, stream):
        stream_management.stream_remote_refresh(stream=stream)
        status = stream_management.stream_status_refresh(stream=stream)
        return f"Read from the transmitter: status {status or 'unknown'}."


class StreamRemoteStatusView(_ManagedStreamActionView):
    """Set enabled / paused / disabled at the transmitter."""

    def act(self, *, stream):
        status = self.request.POST.get("status", "")
        applied = stream_management.stream_status_set(
            stream=stream,
            status=status,
            reason=self.request.POST.get("reason", ""),
            actor=self.request.user,
        )
        return (
            f"Status {status} set."
            if applied
            else (
                "The transmitter will decide later (202); the stream is read again in "
                f"{settings.STREAM_DEFERRED_CHECK_SECONDS} s."
            )
        )


class StreamVerifyView(_ManagedStreamActionView):
    """Ask for a verification SET; the stream shows Verified when it arrives with our state."""

    def act(self, *, stream):
        stream_management.stream_verification_request(stream=stream, actor=self.request.user)
        return "Verification requested; the stream shows Verified when the SET arrives."


class StreamSubjectAddView(_ManagedStreamActionView):
    """Add a subject at the transmitter."""

    def act(self, *, stream):
        form = SubjectForm(self.request.POST)
        if not form.is_valid():
            raise ManagementError(" ".join(form.non_field_errors()) or "Give a valid subject.")
        stream_management.stream_subject_add(
            stream=stream, subject=form.cleaned_data["subject"], actor=self.request.user
        )
        return "Subject added at the transmitter."


class StreamSubjectRemoveView(_ManagedStreamActionView):
    """Remove a subject at the transmitter (its events are still accepted if they come)."""

    def act(self, *, stream):
        subject_id = self.request.POST.get("subject", "")
        if not subject_id.isdigit():
            raise Http404("No such subject.")
        subject = get_object_or_404(StreamSubject, pk=subject_id, stream=stream)
        stream_management.stream_subject_remove(subject=subject, actor=self.request.user)
        return "Subject removed at the transmitter; its events are still accepted."
