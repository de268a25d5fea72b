"""Security > Entity risk policy: rules, connected apps, workflows, and per-stream mappings."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from common.roles import ConsoleAccessMixin
from common.views import render_secret_once
from risk import selectors
from risk.forms import (
    ConnectedAppForm,
    MappingOverrideForm,
    PolicyRuleForm,
    WorkflowEditForm,
    WorkflowForm,
)
from risk.mapping import RULES
from risk.models import ConnectedApp, MappingOverride, PolicyRule, Workflow
from risk.services import policy_config


class PolicyView(ConsoleAccessMixin, TemplateView):
    """The rules in the order they are tried, the mapping table and the per-stream overrides."""

    template_name = "risk/policy.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            rules=selectors.policy_rules(),
            mapping=sorted(RULES.items(), key=lambda item: item[0]),
            overrides=selectors.mapping_overrides(),
            **kwargs,
        )


class _RemoveView(ConsoleAccessMixin, View):
    """GET: a confirmation page; POST: remove through `remove`, then back to the list."""

    super_admin_only = True
    queryset: QuerySet[Any]
    noun = ""
    consequence = ""
    list_url_name = ""

    def remove(self, obj) -> None:
        raise NotImplementedError

    def get(self, request, pk):
        obj = get_object_or_404(self.queryset, pk=pk)
        context = {"title": f"Remove {self.noun} {obj}?", "what": self.consequence,
                   "cancel_url": reverse(self.list_url_name)}  # fmt: skip
        return render(request, "common/confirm.html", context)

    def post(self, request, pk):
        obj = get_object_or_404(self.queryset, pk=pk)
        self.remove(obj)
        messages.success(request, f"The {self.noun} {obj} was removed.")
        return redirect(self.list_url_name)


class PolicyRuleRemoveView(_RemoveView):
    queryset = PolicyRule.objects.filter(is_catch_all=False)
    noun, consequence, list_url_name = (
        "rule",
        "The rule stops matching at once: its actions no longer run.",
        "risk:policy",
    )

    def remove(self, obj):
        policy_config.policy_rule_delete(rule=obj, actor=self.request.user)


class ConnectedAppRemoveView(_RemoveView):
    queryset = ConnectedApp.objects.all()
    noun, consequence = "app", "Rules stop logging users out of it."
    list_url_name = "risk:connected_app_list"

    def remove(self, obj):
        policy_config.connected_app_delete(app=obj, actor=self.request.user)


class WorkflowRemoveView(_RemoveView):
    queryset = Workflow.objects.all()
    noun, consequence = "workflow", "Rules that run it stop running it."
    list_url_name = "risk:workflow_list"

    def remove(self, obj):
        policy_config.workflow_delete(workflow=obj, actor=self.request.user)


def _rule_kwargs(form: PolicyRuleForm) -> dict:
    data = dict(form.cleaned_data)
    data["source_streams"] = list(data["source_streams"])
    return data


class PolicyRuleFormView(ConsoleAccessMixin, View):
    """Add a rule (no pk) or edit one."""

    super_admin_only = True
    template_name = "risk/policy_rule_form.html"

    def _rule(self, pk):
        return get_object_or_404(PolicyRule, pk=pk) if pk else None

    def get(self, request, pk=None):
        rule = self._rule(pk)
        initial = {"active": True, "risk_level": "ANY", "app_selection": "ALL"}
        if rule is not None:
            initial = {
                name: getattr(rule, name)
                for name in ("name", "priority", "active", "risk_level", "detection_types",
                             "terminate_sessions", "app_selection", "workflow")
            }  # fmt: skip
            for name in ("source_streams", "groups_include", "groups_exclude", "apps"):
                initial[name] = getattr(rule, name).all()
        form = PolicyRuleForm(initial=initial)
        return render(request, self.template_name, {"form": form, "rule": rule})

    def post(self, request, pk=None):
        rule = self._rule(pk)
        form = PolicyRuleForm(request.POST)
        if form.is_valid():
            try:
                policy_config.policy_rule_save(rule=rule, **_rule_kwargs(form), actor=request.user)
                messages.success(request, f"Rule {form.cleaned_data['name']!r} saved.")
                return redirect("risk:policy")
            except ValidationError as exc:
                form.add_error(None, exc)
        return render(request, self.template_name, {"form": form, "rule": rule}, status=400)


class ConnectedAppListView(ConsoleAccessMixin, TemplateView):
    template_name = "risk/connected_app_list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(apps=selectors.connected_apps(), **kwargs)


class ConnectedAppFormView(ConsoleAccessMixin, View):
    """Add an app (the token is required) or edit one (an empty token keeps the old one)."""

    super_admin_only = True
    template_name = "risk/connected_app_form.html"

    def get(self, request, pk=None):
        app = get_object_or_404(ConnectedApp, pk=pk) if pk else None
        initial = {"active": True}
        if app is not None:
            initial = {"name": app.name, "revocation_endpoint": app.revocation_endpoint,
                       "active": app.active}  # fmt: skip
        return render(request, self.template_name, {"form": ConnectedAppForm(initial=initial),
                                                    "app": app})  # fmt: skip

    def post(self, request, pk=None):
        app = get_object_or_404(ConnectedApp, pk=pk) if pk else None
        form = ConnectedAppForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if app is None:
                    policy_config.connected_app_create(
                        name=data["name"],
                        revocation_endpoint=data["revocation_endpoint"],
                        token=data["token"],
                        actor=request.user,
                    )
                else:
                    policy_config.connected_app_update(app=app, **data, actor=request.user)
                messages.success(request, f"App {data['name']!r} saved.")
                return redirect("risk:connected_app_list")
            except ValidationError as exc:
                form.add_error(None, exc)
        return render(request, self.template_name, {"form": form, "app": app}, status=400)


class WorkflowListView(ConsoleAccessMixin, TemplateView):
    template_name = "risk/workflow_list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(workflows=selectors.workflows(), **kwargs)


class WorkflowAddView(ConsoleAccessMixin, View):
    """Add a workflow webhook; its signing secret is shown once."""

    super_admin_only = True
    template_name = "risk/workflow_form.html"

    def get(self, request):
        return render(request, self.template_name, {"form": WorkflowForm()})

    def post(self, request):
        form = WorkflowForm(request.POST)
        if form.is_valid():
            try:
                workflow, secret = policy_config.workflow_create(
                    **form.cleaned_data, actor=request.user
                )
                return render_secret_once(request, "risk/workflow_secret.html",
                                          {"workflow": workflow, "secret": secret})  # fmt: skip
            except ValidationError as exc:
                form.add_error(None, exc)
        return render(request, self.template_name, {"form": form}, status=400)


class WorkflowEditView(ConsoleAccessMixin, View):
    """Rename, switch off or re-point a workflow; its URL is never shown, only its origin."""

    super_admin_only = True
    template_name = "risk/workflow_edit.html"

    def get(self, request, pk):
        workflow = get_object_or_404(Workflow, pk=pk)
        form = WorkflowEditForm(initial={"name": workflow.name, "active": workflow.active})
        return render(request, self.template_name, {"form": form, "workflow": workflow})

    def post(self, request, pk):
        workflow = get_object_or_404(Workflow, pk=pk)
        form = WorkflowEditForm(request.POST)
        if form.is_valid():
            try:
                policy_config.workflow_update(
                    workflow=workflow, **form.cleaned_data, actor=request.user
                )
                messages.success(request, f"Workflow {workflow.name!r} saved.")
                return redirect("risk:workflow_list")
            except ValidationError as exc:
                form.add_error(None, exc)
        workflow.refresh_from_db()
        context = {"form": form, "workflow": workflow}
        return render(request, self.template_name, context, status=400)


# Said when a mapping names an event type the table does not read: such SETs are logged as
# SKIPPED before any mapping is looked at, so the admin must not believe it acts already.
UNREAD_EVENT_TYPE = (
    "This receiver does not read {uri} yet: its SETs are logged and ignored, so this mapping "
    "takes effect only once the receiver maps that event type."
)


class MappingOverrideAddView(ConsoleAccessMixin, View):
    """Say what a stream's event type means for risk (replaces the built-in table for it)."""

    super_admin_only = True
    template_name = "risk/mapping_override_form.html"

    def get(self, request):
        return render(request, self.template_name, {"form": MappingOverrideForm()})

    def post(self, request):
        form = MappingOverrideForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            policy_config.mapping_override_set(
                stream=data["stream"],
                event_type=data["event_type"],
                outcome=data["outcome"],
                actor=request.user,
            )
            messages.success(request, "Mapping saved.")
            if data["event_type"] not in RULES:
                messages.warning(request, UNREAD_EVENT_TYPE.format(uri=data["event_type"]))
            return redirect("risk:policy")
        return render(request, self.template_name, {"form": form}, status=400)


class MappingOverrideRemoveView(ConsoleAccessMixin, View):
    """GET: a confirmation page naming what the built-in table does instead; POST: remove."""

    super_admin_only = True

    def get(self, request, pk):
        override = get_object_or_404(MappingOverride.objects.select_related("stream"), pk=pk)
        builtin = RULES.get(override.event_type)
        instead = (
            f"the built-in table applies again ({builtin.label}: {builtin.meaning})"
            if builtin
            else "the event type has no built-in mapping, so these SETs change no risk"
        )
        context = {
            "title": f"Remove the mapping of {override.event_type} from {override.stream}?",
            "what": f"Its SETs of that type stop meaning {override.get_outcome_display()}: "
            f"{instead}.",
            "cancel_url": reverse("risk:policy"),
        }
        return render(request, "common/confirm.html", context)

    def post(self, request, pk):
        override = get_object_or_404(MappingOverride, pk=pk)
        policy_config.mapping_override_set(
            stream=override.stream,
            event_type=override.event_type,
            outcome=None,
            actor=request.user,
        )
        messages.success(request, "Mapping removed; the built-in table applies again.")
        return redirect("risk:policy")
