"""Administration > SCIM clients: list (with last use), create (the token shown once), revoke."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import TemplateView

from common.roles import ConsoleAccessMixin
from common.views import render_secret_once
from scim.forms import ScimClientForm
from scim.models import ScimClient
from scim.selectors import scim_client_list
from scim.services import scim_client_create, scim_client_revoke


class ScimClientListView(ConsoleAccessMixin, TemplateView):
    """Every SCIM client: token prefix, created, last use and state; the base URL to give IdPs."""

    template_name = "scim/scim_client_list.html"

    def get_context_data(self, **kwargs):
        base_url = self.request.build_absolute_uri("/scim/v2")
        return super().get_context_data(clients=scim_client_list(), base_url=base_url, **kwargs)


class ScimClientAddView(ConsoleAccessMixin, View):
    """Create a SCIM client; its bearer token is shown this once."""

    super_admin_only = True
    template_name = "scim/scim_client_form.html"

    def get(self, request):
        return render(request, self.template_name, {"form": ScimClientForm()})

    def post(self, request):
        form = ScimClientForm(request.POST)
        if form.is_valid():
            try:
                client, secret = scim_client_create(
                    name=form.cleaned_data["name"], created_by=request.user
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                base_url = request.build_absolute_uri("/scim/v2")
                return render_secret_once(
                    request, "scim/scim_client_secret.html",
                    {"client": client, "secret": secret, "base_url": base_url},
                )  # fmt: skip
        return render(request, self.template_name, {"form": form}, status=400)


class ScimClientRevokeView(ConsoleAccessMixin, View):
    """Revoke a SCIM client after a confirmation page (GET shows it, POST revokes)."""

    super_admin_only = True

    def get(self, request, pk):
        client = get_object_or_404(ScimClient, pk=pk)
        return render(request, "scim/scim_client_confirm_revoke.html", {"client": client})

    def post(self, request, pk):
        client = get_object_or_404(ScimClient, pk=pk)
        scim_client_revoke(client=client)
        messages.success(request, f"SCIM client {client.name!r} revoked; its token is refused.")
        return redirect("scim:scim_client_list")
