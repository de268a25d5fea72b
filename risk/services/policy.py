"""The entity risk policy (Okta's model): which rule a risk change matches, and what it fires.

It runs on changes of the entity's derived risk level (risk.services.entity_risk), so a rise
fires a rule's actions once, however many signals repeat it. A rule's detection-type and
source-stream conditions match when any detection behind the new level has them.
"""

from dataclasses import dataclass, field
from typing import Any

from risk.models import (
    ActionKind,
    AppSelection,
    ConnectedApp,
    Entity,
    LevelCondition,
    LogEvent,
    PolicyAction,
    PolicyRule,
    RiskChange,
    RiskLevel,
)
from risk.services.system_log import (
    POLICY_ACTION,
    POLICY_EVALUATE,
    entity_target,
    log_event,
    system_actor,
)

POLICY_TARGET = {"id": "entity-risk-policy", "type": "Policy", "alternateId": "ENTITY_RISK",
                 "displayName": "Entity risk policy"}  # fmt: skip


@dataclass
class LoadedRule:
    """A rule with its many-to-many conditions read once per batch."""

    rule: PolicyRule
    streams: set[str] = field(default_factory=set)
    include: set[int] = field(default_factory=set)
    exclude: set[int] = field(default_factory=set)
    apps: list[ConnectedApp] = field(default_factory=list)

    def matches(self, *, change: RiskChange, group_ids: set[int]) -> bool:
        rule = self.rule
        if rule.is_catch_all:
            return True
        behind = change.detections or [
            {"detectionType": change.source, "sourceRef": change.stream_ref}
        ]
        types = {d["detectionType"] for d in behind}
        sources = {d["sourceRef"] for d in behind}
        return (
            rule.risk_level in (LevelCondition.ANY, change.level)
            and (not rule.detection_types or bool(types & set(rule.detection_types)))
            and (not self.streams or bool(sources & self.streams))
            and (not self.include or bool(self.include & group_ids))
            and not (self.exclude & group_ids)
        )


@dataclass
class Policy:
    """The active rules in priority order (catch-all last) and the active connected apps."""

    rules: list[LoadedRule]
    active_apps: list[ConnectedApp]

    @classmethod
    def load(cls) -> "Policy":
        rules = (
            PolicyRule.objects.filter(active=True)
            .select_related("workflow")
            .prefetch_related("source_streams", "groups_include", "groups_exclude", "apps")
        )
        loaded = [
            LoadedRule(
                rule=rule,
                streams={s.pk for s in rule.source_streams.all()},
                include={g.pk for g in rule.groups_include.all()},
                exclude={g.pk for g in rule.groups_exclude.all()},
                apps=[a for a in rule.apps.all() if a.active],
            )
            for rule in rules
        ]
        return cls(rules=loaded, active_apps=list(ConnectedApp.objects.filter(active=True)))

    def first_match(self, *, change: RiskChange, group_ids: set[int]) -> LoadedRule | None:
        return next((r for r in self.rules if r.matches(change=change, group_ids=group_ids)), None)

    def logout_apps(self, loaded: LoadedRule) -> list[ConnectedApp]:
        rule = loaded.rule
        if not rule.terminate_sessions or rule.app_selection == AppSelection.NONE:
            return []
        return self.active_apps if rule.app_selection == AppSelection.ALL else loaded.apps


def rule_target(rule: PolicyRule) -> dict[str, Any]:
    """A policy rule as a LogEvent target."""
    return {"id": str(rule.pk), "type": "PolicyRule", "alternateId": rule.name,
            "displayName": rule.name}  # fmt: skip


def _risk_data(change: RiskChange) -> dict[str, Any]:
    return {
        "previousLevel": change.previous_level,
        "level": change.level,
        "detectionName": change.detection_name,
        "reasons": change.reasons,
        "issuer": change.issuer,
    }


def policy_match(
    *, policy: Policy, change: RiskChange, group_ids: set[int]
) -> tuple[LoadedRule | None, list[PolicyAction]]:
    """The rule a risk change matches and the (unsaved) actions it fires; nothing is written,
    so the console can show an admin what a change would run before it is made."""
    loaded = policy.first_match(change=change, group_ids=group_ids)
    if loaded is None:
        return None, []
    rule = loaded.rule
    actions = [
        PolicyAction(risk_change=change, rule=rule, rule_name=rule.name,
                     kind=ActionKind.UNIVERSAL_LOGOUT, app=app, target_name=app.name)
        for app in policy.logout_apps(loaded)
    ]  # fmt: skip
    if rule.workflow is not None and rule.workflow.active:
        actions.append(
            PolicyAction(risk_change=change, rule=rule, rule_name=rule.name,
                         kind=ActionKind.RUN_WORKFLOW, workflow=rule.workflow,
                         target_name=rule.workflow.name)
        )  # fmt: skip
    return loaded, actions


def policy_evaluate(
    *, policy: Policy, change: RiskChange, entity: Entity, group_ids: set[int]
) -> tuple[list[LogEvent], list[PolicyAction]]:
    """Evaluate the policy for a risk change: the log records and the (unsaved) actions; the
    matched rule's name is kept on the change (`rule_name`, for the report).

    Clearing a risk (level NONE) evaluates nothing: the policy acts on risk, not on its absence.
    """
    if change.level == RiskLevel.NONE:
        return [], []
    loaded, actions = policy_match(policy=policy, change=change, group_ids=group_ids)
    if loaded is None:
        return [], []
    rule = loaded.rule
    change.rule_name = rule.name
    apps = [action.app for action in actions if action.app is not None]
    rule_actions = [k for k, on in ((ActionKind.UNIVERSAL_LOGOUT, rule.terminate_sessions),
                                    (ActionKind.RUN_WORKFLOW, rule.workflow_id)) if on]  # fmt: skip
    common: dict[str, Any] = {
        "actor": system_actor(),
        "trace_id": change.trace_id,
        "entity": entity,
        "stream_ref": change.stream_ref,
        "security_event_id": change.security_event_id,
    }
    targets = [entity_target(entity), POLICY_TARGET, rule_target(rule)]
    evaluate = log_event(
        event_type=POLICY_EVALUATE,
        display_message="Evaluation of entity risk policy",
        target=targets,
        debug_data={
            "Risk": _risk_data(change),
            "RuleAction": rule_actions or ["NULL"],
            "WorkflowId": rule.workflow_id,
            "RuleName": rule.name,
        },
        **common,
    )
    action_log = log_event(
        event_type=POLICY_ACTION,
        display_message="Entity risk policy action"
        if rule_actions
        else "Entity risk policy matched a rule that only logs",
        target=targets,
        debug_data={
            "PolicyAction": rule_actions or ["NULL"],
            "PolicySingleLogOutEnabled": rule.terminate_sessions,
            "PolicySingleLogOutSelectionMode": rule.app_selection,
            "PolicySingleLogoutAppInstanceIds": [app.pk for app in apps],
            "PolicyWorkflowId": rule.workflow_id,
            "Risk": _risk_data(change),
        },
        **common,
    )
    return [evaluate, action_log], actions
