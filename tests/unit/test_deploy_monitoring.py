"""The monitoring examples in deploy/ (Prometheus alert rules, Grafana dashboard) parse, cover the states the
operators asked for, and name only metrics, and labels, that Tocsin's registry has: a renamed metric must
not leave an alert that can never fire. No promtool: the rules are read as YAML and the queries' metric
names and label matchers are checked against the registry."""

from __future__ import annotations

import json
import re

import yaml
from prometheus_client import REGISTRY

import adapters.metrics as metrics  # declares every metric of Tocsin
from tests.support.paths import ROOT

RULES = ROOT / "deploy" / "prometheus" / "tocsin-alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "tocsin-dashboard.json"

# Series Prometheus makes itself, and the labels it adds to every scraped series or histogram bucket.
PROMETHEUS_OWN = {"up"}
ADDED_LABELS = {"job", "instance", "le", "__name__"}
METRIC = re.compile(r"\b((?:tocsin|process|python)_[a-z0-9_]+|up)\b(\{[^}]*\})?")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")


def registry_labels() -> dict[str, set[str]]:
    """Each series name the registry can expose -> the label names its collector declares."""
    names: dict[str, set[str]] = {}
    for name, collector in REGISTRY._names_to_collectors.items():  # the registry's own index of names
        labels: tuple[str, ...] = tuple(getattr(collector, "_labelnames", ()) or getattr(collector, "LABELS", ()))
        names[name] = set(labels)
    return names


def expressions() -> list[tuple[str, str]]:
    """(where, PromQL) of every rule and every dashboard query."""
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    found = [(f"rule {r['alert']}", r["expr"]) for g in rules["groups"] for r in g["rules"]]
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found += [(f"panel {p['title']}", t["expr"]) for p in dashboard["panels"] for t in p["targets"]]
    return found


def test_every_metric_and_label_the_examples_use_is_exported():
    known = registry_labels()
    checked = set()
    for where, expr in expressions():
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), where
        for name, selector in METRIC.findall(expr):
            if name in PROMETHEUS_OWN:
                continue
            assert name in known, f"{where}: {name} is no metric of Tocsin's"
            used = set(MATCHER.findall(selector or "")) - ADDED_LABELS
            assert used <= known[name], f"{where}: {name} has no label {used - known[name]}"
            checked.add(name)
    assert {"tocsin_messages_total", "tocsin_view_lag_seconds", "tocsin_alerts_failed_total"} <= checked


def test_the_rules_cover_what_an_operator_must_wake_up_for():
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    for wanted in ("TocsinProcessDown", "TocsinNoNexsisMessage", "TocsinIngestionLagGrowing", "TocsinViewsLate",
                   "TocsinQuarantineRate", "TocsinAlertsFailing", "TocsinStreamGap", "TocsinAuditVerificationFailed"):
        assert wanted in alerts
    assert "900" in alerts["TocsinNoNexsisMessage"]["expr"]  # 15 minutes
    for rule in alerts.values():
        assert rule["labels"]["severity"] in {"page", "ticket"} and rule["annotations"]["summary"]


def test_the_dashboard_is_an_importable_grafana_dashboard():
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 30
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and len(ids) >= 15
    for panel in dashboard["panels"]:
        assert panel["targets"] and panel["datasource"]["uid"] == "${datasource}"


def test_the_exposition_parses_and_names_no_unbounded_label():
    """The text format, read back by the reference parser; label values are codes, never ids or paths."""
    from prometheus_client.parser import text_string_to_metric_families

    metrics.MESSAGES.labels("accepted", "reported").inc(0)
    metrics.QUARANTINE_REASONS.labels(metrics.reason_code("Jean Dupont 0612345678")).inc(0)
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert "tocsin_messages" in families and "tocsin_alerts_failed" in families
    codes = {s.labels["code"] for s in families["tocsin_quarantine_reasons"].samples}
    assert codes <= {"other"} | {c for c in codes if re.fullmatch(r"[a-z][a-z0-9-]{0,40}", c)}
    assert "Jean Dupont 0612345678" not in body.decode()

