"""The event -> risk mapping table, for every event type it lists, through real processing."""

from pathlib import Path

import pytest
from django.conf import settings

from events.models import SecurityEvent, SecurityEventStatus
from risk.mapping import CAEP, OKTA, RISC, RULES, event_time, lifetime_text, reason_text
from risk.models import Entity, MappingOverride, RiskChange, RiskLevel

pytestmark = pytest.mark.django_db

CASES = [
    (CAEP + "risk-level-change", {"principal": "USER", "current_level": "HIGH"}, "HIGH"),
    (CAEP + "risk-level-change", {"principal": "DEVICE", "current_level": "medium"}, "MEDIUM"),
    (CAEP + "risk-level-change", {"principal": "TENANT", "current_level": "HIGH"}, None),
    (OKTA + "user-risk-change", {"current_level": "low", "previous_level": "none"}, "LOW"),
    (OKTA + "user-risk-change", {"current_level": "medium"}, "MEDIUM"),
    (OKTA + "user-risk-change", {"current_level": "high"}, "HIGH"),
    (OKTA + "device-risk-change", {"current_level": "high"}, "HIGH"),
    (CAEP + "device-compliance-change",
     {"previous_status": "compliant", "current_status": "not-compliant"}, "MEDIUM"),
    (CAEP + "device-compliance-change",
     {"previous_status": "not-compliant", "current_status": "compliant"}, None),
    (CAEP + "credential-change", {"credential_type": "password", "change_type": "revoke"}, "LOW"),
    (CAEP + "credential-change", {"credential_type": "fido2-roaming", "change_type": "delete"},
     "LOW"),
    (CAEP + "credential-change", {"credential_type": "OKTA_VERIFY_PUSH", "change_type": "create"},
     None),
    (CAEP + "session-revoked", {}, "MEDIUM"),
    (CAEP + "assurance-level-change",
     {"namespace": "NIST-AAL", "current_level": "nist-aal1", "change_direction": "decrease"},
     "LOW"),
    (CAEP + "assurance-level-change",
     {"namespace": "NIST-AAL", "current_level": "nist-aal3", "change_direction": "increase"},
     None),
    (RISC + "credential-compromise", {"credential_type": "password"}, "HIGH"),
    (RISC + "account-disabled", {"reason": "hijacking"}, "HIGH"),
    (RISC + "account-disabled", {}, "MEDIUM"),
    (RISC + "account-purged", {}, "HIGH"),
    (RISC + "identifier-changed", {"new-value": "alice2@example.com"}, "LOW"),
    (RISC + "account-credential-change-required", {}, "MEDIUM"),
    (RISC + "sessions-revoked", {}, "MEDIUM"),
    (RISC + "recovery-activated", {}, "LOW"),
    (RISC + "account-enabled", {}, None),
    (CAEP + "token-claims-change", {"claims": {"role": "admin"}}, None),
    (CAEP + "session-established", {}, None),
    (CAEP + "session-presented", {}, None),
    (OKTA + "ip-change", {"current_ip_address": "198.51.100.7", "previous_ip_address": "x"}, None),
]  # fmt: skip


@pytest.mark.parametrize(("uri", "event", "level"), CASES)
def test_event_maps_to_risk(alice, deliver, uri, event, level):
    deliver(uri, event)
    alice.refresh_from_db()
    assert SecurityEvent.objects.get().status == SecurityEventStatus.PROCESSED
    if level is None:
        assert alice.risk_level == RiskLevel.NONE
        assert not RiskChange.objects.exists()
    else:
        assert alice.risk_level == level
        change = RiskChange.objects.get()
        assert (change.previous_level, change.level, change.event_type) == ("NONE", level, uri)


@pytest.mark.parametrize("clearing", ["secure", "none"])
def test_okta_secure_and_none_clear_the_risk(alice, deliver, clearing):
    deliver(OKTA + "user-risk-change", {"current_level": "high"})
    deliver(OKTA + "user-risk-change", {"current_level": clearing})
    alice.refresh_from_db()
    assert alice.risk_level == RiskLevel.NONE
    assert list(RiskChange.objects.order_by("id").values_list("level", flat=True)) == [
        "HIGH",
        "NONE",
    ]


def test_every_listed_event_type_has_a_case_or_is_ssf():
    covered = {uri for uri, _event, _level in CASES}
    untested = {u for u in RULES if u not in covered and "/ssf/" not in u}
    # The RISC opt-in/out family and the lesser recovery/identifier events map to LOW or none
    # by the same rules as their tested siblings.
    assert untested <= {RISC + n for n in ("opt-in", "opt-out-initiated", "opt-out-cancelled",
                                           "opt-out-effective", "recovery-information-changed",
                                           "identifier-recycled")}  # fmt: skip


@pytest.mark.parametrize(
    ("outcome", "level"), [("HIGH", "HIGH"), ("NO_CHANGE", "NONE"), ("LOW", "LOW")]
)
def test_stream_override_says_what_a_providers_event_means(alice, stream, deliver, outcome, level):
    MappingOverride.objects.create(
        stream=stream, event_type=CAEP + "session-revoked", outcome=outcome
    )
    deliver(CAEP + "session-revoked", {})
    alice.refresh_from_db()
    assert alice.risk_level == level


def test_reasons_may_be_language_maps_or_strings():
    assert reason_text({"reason_admin": {"de": "x", "en": "Malware found"}}) == "Malware found"
    assert reason_text({"reason_admin": "Jailbroken"}) == "Jailbroken"
    assert reason_text({"reason_user": {"fr": "Appareil"}}) == "Appareil"
    assert reason_text({"risk_reason": "PASSWORD_FOUND_IN_DATA_BREACH"}) == (
        "PASSWORD_FOUND_IN_DATA_BREACH"
    )


def test_event_timestamps_in_milliseconds_and_floats_are_read_as_seconds():
    seconds, in_ms = event_time({"iat": 1}, {"event_timestamp": 1_700_000_000_500})
    assert (seconds.timestamp(), in_ms) == (1_700_000_000.5, True)
    seconds, in_ms = event_time({"iat": 1}, {"event_timestamp": 1_700_000_000.25})
    assert (seconds.timestamp(), in_ms) == (1_700_000_000.25, False)
    assert event_time({"iat": 1_600_000_000}, {})[0].timestamp() == 1_600_000_000


def test_entity_risk_reason_comes_from_the_event(alice, deliver):
    deliver(OKTA + "user-risk-change", {"current_level": "high", "reason_admin": {"en": "Malware"}})
    assert Entity.objects.get(pk=alice.pk).risk_reason == "Malware"


def _readme_type(uri: str) -> str:
    for prefix, name in ((CAEP, "caep "), (RISC, "risc "), (OKTA, "okta ")):
        if uri.startswith(prefix):
            return name + uri.removeprefix(prefix)
    return "ssf " + uri.rsplit("/", 1)[-1]


def test_the_readmes_mapping_table_is_the_mapping_with_kinds_and_lifetimes():
    readme = (Path(settings.BASE_DIR) / "README.md").read_text().splitlines()
    start = readme.index("| Event | Type | Entity risk | Detection | Level | Lifetime |") + 2
    rows = [line for line in readme[start:] if line.startswith("|")][: len(RULES)]
    expected = [
        f"| {rule.label} | `{_readme_type(uri)}` | {rule.meaning} | "
        + (
            f"{rule.kind.label} | {'reported' if rule.reported else 'inferred'} | "
            f"{lifetime_text(rule.kind)} |"
            if rule.kind
            else "— | — | — |"
        )
        for uri, rule in RULES.items()
    ]
    assert rows == expected
