"""Writes of the policy's configuration: rules, connected apps, workflows, mapping overrides."""

import hmac
import secrets
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from common.crypto import decrypt, encrypt
from risk.models import ConnectedApp, DirectoryGroup, MappingOverride, PolicyRule, Workflow
from streams.fetch import FetchError, check_url, url_origin
from streams.models import Stream


def _check_outbound_url(url: str, field: str) -> str:
    """The same URL rules as every outbound call (streams.fetch), checked when it is saved."""
    try:
        check_url(url.strip())
    except FetchError as exc:
        raise ValidationError({field: str(exc)}) from exc
    return url.strip()


def _unique_name(
    model: type[ConnectedApp | Workflow | PolicyRule], name: str, *, exclude_pk: int = 0
) -> str:
    name = name.strip()
    if model.objects.filter(name=name).exclude(pk=exclude_pk).exists():
        raise ValidationError({"name": f"{name!r} is taken already."})
    return name


def connected_app_create(*, name: str, revocation_endpoint: str, token: str) -> ConnectedApp:
    """Add an app for Universal Logout; its bearer token is kept encrypted, never shown again."""
    if not token:
        raise ValidationError({"token": "The app's bearer token is required."})
    return ConnectedApp.objects.create(
        name=_unique_name(ConnectedApp, name),
        revocation_endpoint=_check_outbound_url(revocation_endpoint, "revocation_endpoint"),
        encrypted_token=encrypt(token),
    )


def connected_app_update(
    *, app: ConnectedApp, name: str, revocation_endpoint: str, active: bool, token: str = ""
) -> ConnectedApp:
    """Change an app; an empty token keeps the current one, but only on the same origin: the
    stored token is never sent to another host unless it is entered again."""
    endpoint = _check_outbound_url(revocation_endpoint, "revocation_endpoint")
    if not token and url_origin(endpoint) != url_origin(app.revocation_endpoint):
        raise ValidationError(
            {"token": "Enter the app's token again to send it to another origin."}
        )
    app.name = _unique_name(ConnectedApp, name, exclude_pk=app.pk)
    app.revocation_endpoint = endpoint
    app.active = active
    if token:
        app.encrypted_token = encrypt(token)
    app.save()
    return app


def connected_app_delete(*, app: ConnectedApp) -> None:
    """Remove an app; rules that named it stop logging users out of it."""
    app.delete()


def _set_workflow_url(workflow: Workflow, url: str) -> None:
    url = _check_outbound_url(url, "url")
    workflow.encrypted_url, workflow.url_origin = encrypt(url), url_origin(url)


def workflow_create(*, name: str, url: str) -> tuple[Workflow, str]:
    """Add a workflow webhook and return it with its signing secret (shown once)."""
    secret = secrets.token_urlsafe(32)
    workflow = Workflow(name=_unique_name(Workflow, name), encrypted_secret=encrypt(secret))
    _set_workflow_url(workflow, url)
    workflow.save()
    return workflow, secret


def _holds_secret(workflow: Workflow, secret: str) -> bool:
    try:
        stored = decrypt(workflow.encrypted_secret)
    except ValueError:  # DJANGO_SECRET_KEY changed: nobody can prove it; add the workflow again
        return False
    return bool(secret) and hmac.compare_digest(secret.encode(), stored.encode())


def workflow_update(
    *, workflow: Workflow, name: str, active: bool, url: str = "", secret: str = ""
) -> Workflow:
    """Change a workflow; an empty `url` keeps the current one. A URL on another origin needs
    the workflow's signing secret: requests signed with it would go to a new host, which could
    replay them to the real receiver, so only someone holding the secret may move them."""
    if url:
        new_origin = url_origin(_check_outbound_url(url, "url"))
        if new_origin != workflow.url_origin and not _holds_secret(workflow, secret):
            raise ValidationError(
                {"secret": "Enter the workflow's signing secret to send it to another origin."}
            )
        _set_workflow_url(workflow, url)
    workflow.name = _unique_name(Workflow, name, exclude_pk=workflow.pk)
    workflow.active = active
    workflow.save()
    return workflow


def workflow_delete(*, workflow: Workflow) -> None:
    """Remove a workflow; rules that ran it keep their other actions."""
    workflow.delete()


@transaction.atomic
def policy_rule_save(
    *,
    rule: PolicyRule | None = None,
    name: str,
    risk_level: str,
    detection_types: list[str] | None = None,
    source_streams: list[Stream] | None = None,
    groups_include: Iterable[DirectoryGroup] = (),
    groups_exclude: Iterable[DirectoryGroup] = (),
    terminate_sessions: bool = False,
    app_selection: str = "ALL",
    apps: Iterable[ConnectedApp] = (),
    workflow: Workflow | None = None,
    active: bool = True,
    priority: int | None = None,
) -> PolicyRule:
    """Create a rule (placed last before the catch-all unless `priority` says) or change one.

    The catch-all rule keeps matching everything and only logs; its name and state may change.
    """
    if rule is None:
        rule = PolicyRule()
        if priority is None:
            last = PolicyRule.objects.filter(is_catch_all=False).aggregate(p=Max("priority"))["p"]
            priority = (last or 0) + 1
    if priority is not None:
        rule.priority = priority
    rule.name, rule.active = _unique_name(PolicyRule, name, exclude_pk=rule.pk or 0), active
    if not rule.is_catch_all:
        rule.risk_level = risk_level
        rule.detection_types = list(detection_types or [])
        rule.terminate_sessions = terminate_sessions
        rule.app_selection = app_selection
        rule.workflow = workflow
    rule.save()
    if not rule.is_catch_all:
        rule.source_streams.set(source_streams or [])
        rule.groups_include.set(groups_include)
        rule.groups_exclude.set(groups_exclude)
        rule.apps.set(apps)
    return rule


def policy_rule_delete(*, rule: PolicyRule) -> None:
    """Remove a rule; the catch-all rule cannot be removed."""
    if rule.is_catch_all:
        raise ValidationError("The catch-all rule cannot be removed.")
    rule.delete()


def mapping_override_set(*, stream: Stream, event_type: str, outcome: str | None) -> None:
    """Say what a stream's event type means for risk; `None` goes back to the built-in table."""
    if outcome is None:
        MappingOverride.objects.filter(stream=stream, event_type=event_type).delete()
        return
    MappingOverride.objects.update_or_create(
        stream=stream, event_type=event_type, defaults={"outcome": outcome}
    )
