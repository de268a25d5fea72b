"""The columns of the risk app's exports: the entity risk report's lists, the System Log and the
directory (written by common.exports)."""

from typing import Any

from common.exports import Columns
from risk.models import DetectionKind, Entity, LogEvent, RiskChange
from risk.services.system_log import log_event_to_okta


def _entity(entity: Entity) -> list[Any]:
    return [entity.pk, entity.label, entity.get_kind_display()]


def _actions(change: RiskChange) -> str:
    return "; ".join(
        f"{a.get_kind_display()} at {a.target_name}: {a.get_status_display()}"
        for a in change.actions.all()
    )


def _source(names: dict[str, str], ref: str) -> str:
    return names.get(ref) or ref or "Admin"


def _first_target(record: LogEvent) -> dict[str, Any]:
    targets = record.target
    return (
        targets[0] if isinstance(targets, list) and targets and isinstance(targets[0], dict) else {}
    )


def _log_values(r: LogEvent) -> list[Any]:
    actor = r.actor if isinstance(r.actor, dict) else {}
    target = _first_target(r)
    return [
        r.published, r.event_type, r.severity, r.display_message,
        actor.get("id"), actor.get("type"), actor.get("alternateId"), actor.get("displayName"),
        r.client.get("ipAddress") if isinstance(r.client, dict) else None,
        r.outcome_result, r.outcome_reason,
        target.get("id"), target.get("type"), target.get("alternateId"), target.get("displayName"),
        r.trace_id, r.uuid, r.debug_data,
    ]  # fmt: skip


# Okta's System Log "Download CSV": its LogEvent attribute names, the first target (the user,
# device or provider the record is about; the JSON export has every target), and debugData as
# JSON. The JSON export is Okta's LogEvent itself, as GET /api/v1/logs answers.
LOG = Columns(
    names=["published", "eventType", "severity", "displayMessage", "actor.id", "actor.type",
           "actor.alternateId", "actor.displayName", "client.ipAddress", "outcome.result",
           "outcome.reason", "target.id", "target.type", "target.alternateId",
           "target.displayName", "transaction.id", "uuid", "debugContext.debugData"],
    values=_log_values,
    record=log_event_to_okta,
)  # fmt: skip

# The directory: the import's columns first (login, email, first_name, last_name, groups split
# by `;`), so an export of people can be imported elsewhere as it is.
DIRECTORY = Columns(
    names=["login", "email", "first_name", "last_name", "groups", "id", "kind", "display_name",
           "status", "risk_level", "risk_reason", "risk_updated_at", "identifiers", "created_at",
           "created_automatically"],
    values=lambda e: [
        e.login, e.email, e.first_name, e.last_name, ";".join(g.name for g in e.groups.all()),
        e.pk, e.kind, e.display_name, e.status, e.risk_level, e.risk_reason, e.risk_updated_at,
        ";".join(i.key for i in e.identifiers.all()), e.created_at, e.created_automatically,
    ],
)  # fmt: skip


def report_columns(view: str, names: dict[str, str]) -> Columns:
    """The columns of one of the report's lists (`view`); `names` are stream names by id."""
    if view == "log":
        return LOG
    return {
        "detections": Columns(
            names=["time", "entity_id", "entity", "entity_kind", "detection", "source", "level",
                   "effect", "detection_state", "event_type", "reasons", "event_time", "set_jti"],
            values=lambda s: [
                s.created_at, *_entity(s.entity), DetectionKind(s.kind).label,
                _source(names, s.source_ref), s.level, s.get_effect_display(),
                s.detection.get_state_display() if s.detection else "", s.event_type, s.reasons,
                s.observed_at, s.security_event.jti if s.security_event else "",
            ],
        ),
        "entities": Columns(
            names=["entity_id", "entity", "entity_kind", "risk", "reason", "source",
                   "risk_changed"],
            values=lambda e: [
                *_entity(e), e.risk_level, e.risk_reason, _source(names, e.risk_stream_ref),
                e.risk_updated_at,
            ],
        ),
        "rules": Columns(
            names=["time", "entity_id", "entity", "entity_kind", "previous_level", "level",
                   "rule", "actions", "cause", "source"],
            values=lambda c: [
                c.created_at, *_entity(c.entity), c.previous_level, c.level, c.rule_name,
                _actions(c), c.get_cause_display(), _source(names, c.stream_ref),
            ],
        ),
    }[view]  # fmt: skip
