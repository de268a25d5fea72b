"""Migration 0004_detections: today's levels and risk history carried into detections."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from risk.models import (
    Detection,
    DetectionKind,
    DetectionSignal,
    DetectionState,
    Entity,
    RiskChange,
    RiskChangeCause,
    SignalEffect,
)
from streams.vocabulary import OKTA, RISC

BEFORE = [("risk", "0004_log_event_debug_data_safe_json")]
PROVIDER = "SECURITY_EVENTS_PROVIDER_REPORTED_RISK"
ADMIN = "ADMIN_REPORTED_USER_RISK"


@pytest.fixture
def old_apps(transactional_db):
    """The models as they were before detections; the schema is migrated forward afterwards."""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    yield executor.loader.project_state(BEFORE).apps
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_levels_and_history_become_detections_and_signals(old_apps):
    OldEntity = old_apps.get_model("risk", "Entity")
    OldRiskChange = old_apps.get_model("risk", "RiskChange")
    OldLogEvent = old_apps.get_model("risk", "LogEvent")
    now = timezone.now()
    earlier = now - timedelta(hours=2)
    alice = OldEntity.objects.create(
        id="00ualice", email="alice@example.com", risk_level="HIGH", risk_reason="Purged",
        risk_updated_at=now, risk_observed_at=now - timedelta(minutes=5), risk_stream_ref="s1",
    )  # fmt: skip
    bob = OldEntity.objects.create(id="00ubob", risk_level="MEDIUM", risk_reason="Phished")
    carol = OldEntity.objects.create(id="00ucarol", risk_level="NONE")

    def change(entity, level, previous, source=PROVIDER, event_type="", at=now, **fields):
        return OldRiskChange.objects.create(
            entity=entity, level=level, previous_level=previous, source=source,
            event_type=event_type, stream_ref="s1" if source == PROVIDER else "",
            trace_id=f"trace-{entity.id}-{level}", observed_at=at, created_at=at, **fields,
        )  # fmt: skip

    change(alice, "LOW", "NONE", event_type=RISC + "identifier-changed", at=earlier)
    change(alice, "HIGH", "LOW", event_type=RISC + "account-purged", reasons="Purged")
    change(bob, "MEDIUM", "NONE", source=ADMIN, actor_name="admin", reasons="Phished")
    change(carol, "HIGH", "NONE", event_type=OKTA + "user-risk-change", at=earlier)
    change(carol, "NONE", "HIGH", event_type=OKTA + "user-risk-change")
    OldLogEvent.objects.create(
        event_type="policy.entity_risk.evaluate", display_message="Evaluated", entity_id=alice.id,
        trace_id="trace-00ualice-HIGH", debug_data={"RuleName": "High risk: log out"},
    )  # fmt: skip

    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    # No entity's level changes; each level is an active detection of its kind and source.
    assert dict(Entity.objects.values_list("id", "risk_level")) == {
        "00ualice": "HIGH", "00ubob": "MEDIUM", "00ucarol": "NONE",
    }  # fmt: skip
    active = Detection.objects.filter(state=DetectionState.ACTIVE)
    assert sorted(active.values_list("entity_id", "source_ref", "kind", "level")) == [
        ("00ualice", "s1", DetectionKind.ACCOUNT_PURGED, "HIGH"),
        ("00ubob", "", DetectionKind.ADMIN, "MEDIUM"),
    ]
    purged = active.get(entity_id="00ualice")
    assert purged.observed_at == now - timedelta(minutes=5)
    assert purged.expires_at is not None  # an inferred level's lifetime counts from now
    assert active.get(entity_id="00ubob").expires_at is None
    # Every past risk change is a signal; nothing of the history is lost.
    signals = DetectionSignal.objects.order_by("entity_id", "created_at")
    assert list(signals.values_list("entity_id", "kind", "level", "effect")) == [
        ("00ualice", DetectionKind.IDENTIFIER_CHANGED, "LOW", SignalEffect.BEFORE_DETECTIONS),
        ("00ualice", DetectionKind.ACCOUNT_PURGED, "HIGH", SignalEffect.BEFORE_DETECTIONS),
        ("00ubob", DetectionKind.ADMIN, "MEDIUM", SignalEffect.BEFORE_DETECTIONS),
        ("00ucarol", DetectionKind.USER_RISK, "HIGH", SignalEffect.BEFORE_DETECTIONS),
        ("00ucarol", DetectionKind.USER_RISK, "NONE", SignalEffect.BEFORE_DETECTIONS),
    ]
    assert signals.get(level="HIGH", entity_id="00ualice").detection_id == purged.pk
    assert RiskChange.objects.count() == 5
    assert RiskChange.objects.get(entity_id="00ualice", level="HIGH").rule_name == (
        "High risk: log out"
    )
    assert RiskChange.objects.get(entity_id="00ubob").cause == RiskChangeCause.ADMIN_SET
