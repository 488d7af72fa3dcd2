"""deploy/prometheus and deploy/grafana (issue 8): the config and the alert rules pass promtool, each alert fires
on the series that should raise it and not on healthy ones (`promtool test rules`), every PromQL expression of
the dashboard parses, and every chibo metric they name is one the code exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
# Metrics the code exports (shared/metrics.py) and those of others: Prometheus's own and RabbitMQ's plugin.
FOREIGN = re.compile(r"^(up|rabbitmq_\w+)$")


def promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool is missing: `apt-get install prometheus` (deploy/ensure-infra.sh installs it)")
    return subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def exported_metrics() -> set[str]:
    """Every metric name shared/metrics.py registers, with the series names Prometheus derives from it."""
    from prometheus_client import REGISTRY

    import shared.metrics  # noqa: F401 - registers them

    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("chibo_"):
            names |= {family.name, family.name + "_total", family.name + "_bucket", family.name + "_count",
                      family.name + "_sum"}
    return names


def dashboard_exprs() -> list[tuple[str, str]]:
    out = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text(encoding="utf-8"))["panels"]:
            for target in panel.get("targets", []):
                out.append((f"{path.name}: {panel['title']}", target["expr"]))
    return out


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads (identifiers followed by a selector, a range or an operator)."""
    words = set(re.findall(r"\b([a-z_][a-z0-9_]*)\b(?=\s*[{\[)\s/*+-]|$)", expr))
    functions = {"sum", "max", "min", "rate", "increase", "deriv", "changes", "histogram_quantile", "by", "on",
                 "and", "or", "group_right", "le", "avg", "count", "time"}
    return {w for w in words if w not in functions and ("_" in w or w == "up")}


def test_the_prometheus_config_and_rules_pass_promtool():
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_each_alert_fires_when_it_should_and_only_then():
    result = promtool("test", "rules", "alerts.test.yml")
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr


def test_a_broken_alert_is_caught_by_the_rule_tests(tmp_path):
    """The rule tests can fail: with the lag threshold raised to 600 s, the lag alert no longer fires."""
    for name in ("alerts.yml", "alerts.test.yml"):
        shutil.copy(PROMETHEUS / name, tmp_path / name)
    rules = tmp_path / "alerts.yml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("(chibo_consumer_lag_seconds) > 60",
                                                               "(chibo_consumer_lag_seconds) > 600"), encoding="utf-8")
    result = promtool("test", "rules", "alerts.test.yml", cwd=tmp_path)
    assert result.returncode != 0 and "ChiboConsumerLagHigh" in result.stdout + result.stderr


def test_the_issue_s_alerts_are_all_there():
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    alerts = {rule["alert"]: rule for group in groups for rule in group["rules"]}
    assert {"ChiboServiceDown", "ChiboConsumerLagHigh", "ChiboOutboxBacklogGrowing", "ChiboDeadLetter",
            "ChiboHighErrorRate"} <= set(alerts)
    assert alerts["ChiboOutboxBacklogGrowing"]["for"] == "5m"
    assert "> 0.01" in alerts["ChiboHighErrorRate"]["expr"]
    for rule in alerts.values():
        assert rule["annotations"]["summary"] and rule["labels"]["severity"] in ("page", "ticket")


def test_every_scrape_target_is_an_operator_port_of_the_compose_file():
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for service, port in (("members", 9001), ("meetings", 9002), ("reporting", 9003)):
        job = jobs[f"chibo-{service}"]
        assert job["metrics_path"] == f"/{service}/metrics"
        targets = [t for sc in job.get("static_configs", []) for t in sc["targets"]] + [
            f"{name}:{sd['port']}" for sd in job.get("dns_sd_configs", []) for name in sd["names"]]
        assert targets == [f"{service}:{port}"], targets
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    for job in config["scrape_configs"]:  # every target: a compose service exposing that port to the network
        targets = [t for sc in job.get("static_configs", []) for t in sc["targets"]] + [
            f"{name}:{sd['port']}" for sd in job.get("dns_sd_configs", []) for name in sd["names"]]
        for target in targets:
            host, port = target.rsplit(":", 1)
            assert port in [str(p) for p in compose[host].get("expose", [])], f"{job['job_name']}: {target}"
    assert "rabbitmq_prometheus" in (ROOT / "deploy" / "rabbitmq" / "enabled_plugins").read_text()


def test_prometheus_and_grafana_run_in_compose_with_these_files():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    prometheus, grafana = compose["prometheus"], compose["grafana"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert {s for s, c in prometheus["depends_on"].items() if c["condition"] == "service_healthy"} >= {
        "members", "meetings", "reporting"}
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana["volumes"]
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"
    for service in (prometheus, grafana):
        assert service["healthcheck"]["test"][0] == "CMD"
    relays = {name: compose[name]["environment"] for name in ("relay-members", "relay-meetings")}
    assert relays["relay-members"]["MEMBERS_RELAY_OPS"] == "0.0.0.0:9011"
    assert relays["relay-meetings"]["MEETINGS_RELAY_OPS"] == "0.0.0.0:9012"


def test_every_dashboard_expression_parses_and_names_real_metrics(tmp_path):
    exprs = dashboard_exprs()
    assert len(exprs) >= 12
    # promtool parses PromQL in rule files: one recording rule per panel expression
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr_{i}", "expr": expr} for i, (_, expr) in enumerate(exprs)]}]}
    (tmp_path / "exprs.yml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    result = promtool("check", "rules", "exprs.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    known = exported_metrics()
    for where, expr in exprs:
        unknown = {m for m in metric_names(expr) if not FOREIGN.match(m)} - known
        assert not unknown, f"{where}: {unknown} are exported by nothing"


def test_the_alert_rules_name_real_metrics():
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    known = exported_metrics()
    for rule in (r for g in groups for r in g["rules"]):
        unknown = {m for m in metric_names(rule["expr"]) if not FOREIGN.match(m)} - known
        assert not unknown, f"{rule['alert']}: {unknown} are exported by nothing"


def test_grafana_provisioning_points_at_the_dashboards_and_the_datasource_they_use():
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    [ds] = datasource["datasources"]
    assert ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "chibo.yml").read_text())["providers"][0]
    assert provider["type"] == "file" and provider["options"]["path"] == "/var/lib/grafana/dashboards"
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        assert dashboard["uid"] and dashboard["title"] and dashboard["panels"]
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] == ds["uid"], (path.name, panel["title"])
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
