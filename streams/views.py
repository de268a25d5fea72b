"""The "Receive shared signals" console pages: thin views over streams.services/selectors."""

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
from streams.models import ConfigMethod, RemoteStatus, Stream, StreamSubject
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
        # ?show=removed: the removed streams, read-only (their history and SETs stay).
        if self.request.GET.get("show") == "removed":
            return super().get_context_data(
                showing_removed=True, removed=selectors.removed_stream_list(), **kwargs
            )
        return super().get_context_data(
            streams=selectors.stream_list(),
            removed_count=selectors.removed_stream_count(),
            **kwargs,
        )


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
        # To the new stream's page: the values to give the transmitter are there.
        return redirect("streams:stream_detail", pk=stream.pk)


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


def _push_endpoint(stream: Stream) -> str:
    """The one push endpoint to show: the stream's own, given to the transmitter when we manage
    it; else the generic one, for transmitters configured by hand ('' when we poll)."""
    management = getattr(stream, "management", None)
    if management is None:
        return settings.SITE_URL + reverse("events:security_event_push")
    return "" if management.is_poll else management.delivery_endpoint


# The buttons that ask the transmitter for each SSF status (SSF §8.1.2), in the order shown.
REMOTE_STATUS_ACTIONS = [
    (RemoteStatus.ENABLED, "Enable"),
    (RemoteStatus.PAUSED, "Pause"),
    (RemoteStatus.DISABLED, "Disable"),
]


class StreamDetailView(ConsoleAccessMixin, TemplateView):
    """One stream: configuration, transmitter metadata, keys, what to give the transmitter. A
    removed stream's page stays, read-only: what its removal kept, its history and SETs."""

    template_name = "streams/stream_detail.html"

    def get_template_names(self):
        if getattr(self.stream, "is_removed", False):
            return ["streams/stream_removed.html"]
        return [self.template_name]

    def get_context_data(self, pk, **kwargs):
        try:
            self.stream = stream = selectors.stream_or_removed(stream_id=pk)
        except Stream.DoesNotExist as exc:
            raise Http404("No such stream.") from exc
        context = {"stream": stream, "changes": selectors.stream_changes(stream_id=pk)}
        if isinstance(stream, Stream):
            context |= {
                "management": getattr(stream, "management", None),
                "subjects": stream.subjects.all(),
                "subject_form": SubjectForm(),
                "keys": selectors.stream_signing_keys(stream=stream),
                "push_endpoint": _push_endpoint(stream),
                "audience": settings.RECEIVER_AUDIENCE,
                "remote_status_actions": REMOTE_STATUS_ACTIONS,
                "grace_seconds": settings.PUSH_SECRET_GRACE_SECONDS,
            }
        return super().get_context_data(**context, **kwargs)


def _next_url(request) -> str:
    """Where to go back to: the page the action was taken on, else the list."""
    target = request.POST.get("next") or request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return reverse("streams:stream_list")
    return target


class StreamActivateView(ConsoleAccessMixin, View):
    """POST only: accept the stream's SETs again; htmx gets the row (and the status message,
    out of band, for the live region), a plain request a redirect."""

    def post(self, request, pk):
        stream = get_object_or_404(Stream.objects.select_related("management"), pk=pk)
        services.stream_activate(stream=stream, actor=request.user)
        messages.success(request, f"Stream {stream.name!r} activated; its SETs are accepted.")
        if request.htmx:
            return render(request, "streams/partials/_stream_row_swap.html", {"stream": stream})
        return redirect(_next_url(request))


class StreamDeactivateView(ConsoleAccessMixin, View):
    """Deactivate after a confirmation page that names what stops; a stream we manage can be
    paused at the transmitter in the same step (ticked by default: the transmitter then holds
    its events, SSF §8.1.2, instead of pushing SETs we refuse)."""

    super_admin_only = True
    template_name = "streams/stream_confirm_deactivate.html"

    def get(self, request, pk):
        stream = get_object_or_404(Stream.objects.select_related("management"), pk=pk)
        return render(request, self.template_name, self._context(request, stream))

    def post(self, request, pk):
        stream = get_object_or_404(Stream.objects.select_related("management"), pk=pk)
        services.stream_deactivate(stream=stream, actor=request.user)
        messages.success(
            request, f"Stream {stream.name!r} deactivated; its SETs are refused until it is "
            "activated."
        )  # fmt: skip
        if hasattr(stream, "management") and request.POST.get("pause_at_transmitter"):
            paused = _try(
                request,
                stream_management.stream_status_set,
                stream=stream,
                status=RemoteStatus.PAUSED,
                reason="Deactivated at the receiver",
                actor=request.user,
            )
            if paused is not None:
                messages.success(request, "The transmitter was asked to pause the stream.")
        return redirect(_next_url(request))

    @staticmethod
    def _context(request, stream: Stream) -> dict:
        return {
            "stream": stream,
            "title": f"Deactivate stream {stream.name}?",
            "what": f"SETs from {stream.issuer} are refused (access_denied) until you activate "
            "it again: they make no System Log records, risk changes or policy actions.",
            "action_label": "Deactivate",
            "cancel_url": _next_url(request),
            "next": _next_url(request),
            "tabs": "streams/_tabs.html",
        }


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


class StreamPushSecretClearView(ConsoleAccessMixin, View):
    """Remove the push authorization secret after a confirmation page naming what stops."""

    super_admin_only = True

    def get(self, request, pk):
        stream = get_object_or_404(Stream, pk=pk)
        context = {
            "title": f"Remove the push secret of {stream.name}?",
            "what": "Pushes stop being checked for the Authorization header: anyone who can reach "
            "the push endpoint may send SETs, which are then trusted on their signature alone.",
            "cancel_url": reverse("streams:stream_detail", args=[stream.pk]),
            "tabs": "streams/_tabs.html",
        }
        return render(request, "common/confirm.html", context)

    def post(self, request, pk):
        stream = get_object_or_404(Stream, pk=pk)
        services.stream_push_secret_clear(stream=stream, actor=request.user)
        messages.success(request, "Pushes no longer need an Authorization header.")
        return redirect("streams:stream_detail", pk=stream.pk)


class StreamPushSecretView(ConsoleAccessMixin, View):
    """Generate (or rotate) the push authorization secret: shown once, or, on a push stream we
    manage, installed at the transmitter (and never shown)."""

    def post(self, request, pk):
        stream = get_object_or_404(Stream.objects.select_related("management"), pk=pk)
        try:
            secret = services.stream_push_secret_renew(stream=stream, actor=request.user)
        except ManagementError as exc:
            messages.error(
                request,
                f"The transmitter did not take a new secret, so it was not rotated: {exc}. "
                "The current secret still works.",
            )
            return redirect("streams:stream_detail", pk=stream.pk)
        if secret is None:
            messages.success(
                request,
                "A new push secret was installed at the transmitter; the old one is accepted "
                f"for {settings.PUSH_SECRET_GRACE_SECONDS} s more.",
            )
            return redirect("streams:stream_detail", pk=stream.pk)
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
