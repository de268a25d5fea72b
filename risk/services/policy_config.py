"""Writes of the policy's configuration: rules, connected apps, workflows, mapping overrides."""

import hmac
import secrets
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from common import audit
from common.audit import ChangeRecord, admin_actor, audit_record
from common.crypto import decrypt, encrypt
from common.types import Actor
from risk.models import ConnectedApp, DirectoryGroup, MappingOverride, PolicyRule, Workflow
from risk.services.policy import POLICY_TARGET, rule_target
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


def _log_change(
    event_type: str,
    actor: Actor,
    target: dict[str, Any],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    secret_fields: tuple[str, ...] = (),
    also: dict[str, Any] | None = None,
) -> None:
    """The System Log record of an admin's change to the policy's configuration: the fields
    that changed, secrets only as "changed"."""
    before, after = audit.changes(before, after, secret_fields=secret_fields)
    audit_record(ChangeRecord(event_type=event_type, actor=admin_actor(user=actor),
                              target=[target, *([also] if also else [])],
                              before=before, after=after))  # fmt: skip


def _app_target(app: ConnectedApp) -> dict[str, Any]:
    return {"id": str(app.pk), "type": "AppInstance", "alternateId": app.revocation_endpoint,
            "displayName": app.name}  # fmt: skip


def _app_snapshot(app: ConnectedApp) -> dict[str, Any]:
    # The token's ciphertext only tells whether it changed; the log says "changed" instead.
    return {"name": app.name, "revocationEndpoint": app.revocation_endpoint,
            "active": app.active, "token": app.encrypted_token}  # fmt: skip


@transaction.atomic
def connected_app_create(
    *, name: str, revocation_endpoint: str, token: str, actor: Actor = None
) -> ConnectedApp:
    """Add an app for Universal Logout; its bearer token is kept encrypted, never shown again."""
    if not token:
        raise ValidationError({"token": "The app's bearer token is required."})
    app = ConnectedApp.objects.create(
        name=_unique_name(ConnectedApp, name),
        revocation_endpoint=_check_outbound_url(revocation_endpoint, "revocation_endpoint"),
        encrypted_token=encrypt(token),
    )
    _log_change(audit.APP_CREATE, actor, _app_target(app), None, _app_snapshot(app),
                secret_fields=("token",))  # fmt: skip
    return app


@transaction.atomic
def connected_app_update(
    *,
    app: ConnectedApp,
    name: str,
    revocation_endpoint: str,
    active: bool,
    token: str = "",
    actor: Actor = None,
) -> ConnectedApp:
    """Change an app; an empty token keeps the current one, but only on the same origin: the
    stored token is never sent to another host unless it is entered again."""
    endpoint = _check_outbound_url(revocation_endpoint, "revocation_endpoint")
    if not token and url_origin(endpoint) != url_origin(app.revocation_endpoint):
        raise ValidationError(
            {"token": "Enter the app's token again to send it to another origin."}
        )
    before = _app_snapshot(app)
    app.name = _unique_name(ConnectedApp, name, exclude_pk=app.pk)
    app.revocation_endpoint = endpoint
    app.active = active
    if token:
        app.encrypted_token = encrypt(token)
    app.save()
    _log_change(audit.APP_UPDATE, actor, _app_target(app), before, _app_snapshot(app),
                secret_fields=("token",))  # fmt: skip
    return app


@transaction.atomic
def connected_app_delete(*, app: ConnectedApp, actor: Actor = None) -> None:
    """Remove an app; rules that named it stop logging users out of it."""
    _log_change(audit.APP_DELETE, actor, _app_target(app), _app_snapshot(app), None,
                secret_fields=("token",))  # fmt: skip
    app.delete()


def _set_workflow_url(workflow: Workflow, url: str) -> None:
    url = _check_outbound_url(url, "url")
    workflow.encrypted_url, workflow.url_origin = encrypt(url), url_origin(url)


# A workflow's URL is a secret (a webhook's path often is one): only its origin is logged.
WORKFLOW_SECRETS = ("url", "secret")


def _workflow_target(workflow: Workflow) -> dict[str, Any]:
    return {"id": str(workflow.pk), "type": "Workflow", "alternateId": workflow.url_origin,
            "displayName": workflow.name}  # fmt: skip


def _workflow_snapshot(workflow: Workflow) -> dict[str, Any]:
    return {"name": workflow.name, "active": workflow.active, "urlOrigin": workflow.url_origin,
            "url": workflow.encrypted_url, "secret": workflow.encrypted_secret}  # fmt: skip


@transaction.atomic
def workflow_create(*, name: str, url: str, actor: Actor = None) -> tuple[Workflow, str]:
    """Add a workflow webhook and return it with its signing secret (shown once)."""
    secret = secrets.token_urlsafe(32)
    workflow = Workflow(name=_unique_name(Workflow, name), encrypted_secret=encrypt(secret))
    _set_workflow_url(workflow, url)
    workflow.save()
    _log_change(audit.APP_CREATE, actor, _workflow_target(workflow), None,
                _workflow_snapshot(workflow), secret_fields=WORKFLOW_SECRETS)  # fmt: skip
    return workflow, secret


def _holds_secret(workflow: Workflow, secret: str) -> bool:
    try:
        stored = decrypt(workflow.encrypted_secret)
    except ValueError:  # DJANGO_SECRET_KEY changed: nobody can prove it; add the workflow again
        return False
    return bool(secret) and hmac.compare_digest(secret.encode(), stored.encode())


@transaction.atomic
def workflow_update(
    *,
    workflow: Workflow,
    name: str,
    active: bool,
    url: str = "",
    secret: str = "",
    actor: Actor = None,
) -> Workflow:
    """Change a workflow; an empty `url` keeps the current one. A URL on another origin needs
    the workflow's signing secret: requests signed with it would go to a new host, which could
    replay them to the real receiver, so only someone holding the secret may move them."""
    before = _workflow_snapshot(workflow)
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
    _log_change(audit.APP_UPDATE, actor, _workflow_target(workflow), before,
                _workflow_snapshot(workflow), secret_fields=WORKFLOW_SECRETS)  # fmt: skip
    return workflow


@transaction.atomic
def workflow_delete(*, workflow: Workflow, actor: Actor = None) -> None:
    """Remove a workflow; rules that ran it keep their other actions."""
    _log_change(audit.APP_DELETE, actor, _workflow_target(workflow),
                _workflow_snapshot(workflow), None, secret_fields=WORKFLOW_SECRETS)  # fmt: skip
    workflow.delete()


def _rule_snapshot(rule: PolicyRule) -> dict[str, Any]:
    def names(related: Any) -> list[str]:
        return sorted(str(obj) for obj in related.all())

    snapshot = {"name": rule.name, "priority": rule.priority, "active": rule.active,
                "riskLevel": rule.risk_level, "detectionTypes": list(rule.detection_types),
                "terminateSessions": rule.terminate_sessions, "appSelection": rule.app_selection,
                "workflow": str(rule.workflow) if rule.workflow_id else None}  # fmt: skip
    if rule.pk is not None:
        snapshot.update(
            sourceStreams=names(rule.source_streams),
            groupsInclude=names(rule.groups_include),
            groupsExclude=names(rule.groups_exclude),
            apps=names(rule.apps),
        )
    return snapshot


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
    actor: Actor = None,
) -> PolicyRule:
    """Create a rule (placed last before the catch-all unless `priority` says) or change one.

    The catch-all rule keeps matching everything and only logs; its name and state may change.
    """
    before = _rule_snapshot(rule) if rule is not None else None
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
    after = _rule_snapshot(rule)
    _log_change(_rule_event_type(before, after), actor, rule_target(rule), before, after,
                also=POLICY_TARGET)  # fmt: skip
    return rule


def _rule_event_type(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """Okta's: add, or activate/deactivate when only the state changed, else update."""
    if before is None:
        return audit.RULE_ADD
    changed = {name for name in after if before.get(name) != after[name]}
    if changed == {"active"}:
        return audit.RULE_ACTIVATE if after["active"] else audit.RULE_DEACTIVATE
    return audit.RULE_UPDATE


@transaction.atomic
def policy_rule_delete(*, rule: PolicyRule, actor: Actor = None) -> None:
    """Remove a rule; the catch-all rule cannot be removed."""
    if rule.is_catch_all:
        raise ValidationError("The catch-all rule cannot be removed.")
    _log_change(audit.RULE_DELETE, actor, rule_target(rule), _rule_snapshot(rule), None,
                also=POLICY_TARGET)  # fmt: skip
    rule.delete()


@transaction.atomic
def mapping_override_set(
    *, stream: Stream, event_type: str, outcome: str | None, actor: Actor = None
) -> None:
    """Say what a stream's event type means for risk; `None` goes back to the built-in table.

    Logged as an update of the entity risk policy (policy.lifecycle.update: the mapping is part
    of it) naming the stream; setting what is set already logs nothing."""
    current = MappingOverride.objects.filter(stream=stream, event_type=event_type).first()
    old = current.outcome if current is not None else None
    if old == outcome:
        return
    if outcome is None:
        MappingOverride.objects.filter(stream=stream, event_type=event_type).delete()
    else:
        MappingOverride.objects.update_or_create(
            stream=stream, event_type=event_type, defaults={"outcome": outcome}
        )
    stream_target = {"id": stream.pk, "type": "SecurityEventProvider",
                     "alternateId": stream.issuer, "displayName": stream.name}  # fmt: skip
    _log_change(audit.POLICY_UPDATE, actor, POLICY_TARGET,
                {"eventType": event_type, "mapping": old},
                {"eventType": event_type, "mapping": outcome}, also=stream_target)  # fmt: skip
