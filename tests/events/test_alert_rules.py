"""deploy/prometheus/alerts.yml: valid YAML, well-formed rules, only series /metrics exports."""

import re

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import ROOT

pytestmark = pytest.mark.django_db
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"


def exported_names(client, settings) -> set[str]:
    settings.METRICS_TOKEN = token = "m-" + "x" * 30
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}").content.decode()
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
    return names


def test_every_rule_is_well_formed_and_names_only_exported_series(client, settings, redis_url):
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"]
             for rule in group["rules"]]  # fmt: skip
    assert len(rules) >= 5
    exported = exported_names(client, settings)
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert re.fullmatch(r"Ssf[A-Za-z]+", rule["alert"])
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "0s"))
        assert rule["expr"].count("(") == rule["expr"].count(")")
        named = set(re.findall(r"\bssf_[a-z0-9_]+", rule["expr"]))
        assert named, rule["alert"]
        assert named <= exported, (rule["alert"], named - exported)


def test_the_rules_cover_what_the_operator_must_hear_of():
    alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"]
              for rule in group["rules"]}  # fmt: skip
    assert {"SsfProcessingStalled", "SsfBacklogGrowing", "SsfJwksFetchFailing",
            "SsfPolicyActionsFailing", "SsfStreamUnverified"} <= alerts  # fmt: skip
