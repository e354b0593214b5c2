"""deploy/prometheus and deploy/grafana: the rules parse, and every metric they and the dashboard name
is one a running accountd (with NATS and the monitor) exports on /metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nats
import yaml

from accountd.monitor import METRICS, Monitor
from harness import NatsFactory, operator_mode_config
from serving import StartServer
from world import World

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "accountd-rules.yaml"
DASHBOARD = DEPLOY / "grafana" / "accountd-dashboard.json"
METRIC = re.compile(r"\b(?:nats|accountd)_[a-z0-9_]+\b")
DURATION = re.compile(r"^\d+[smhd]$")


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    assert set(doc) == {"groups"}
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in doc["panels"] for t in p["targets"]]


def test_the_rules_file_is_well_formed() -> None:
    doc = yaml.safe_load(RULES.read_text())
    names = [g["name"] for g in doc["groups"]]
    assert len(names) == len(set(names))
    for rule in rules():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert isinstance(rule["alert"], str) and isinstance(rule["expr"], str) and rule["expr"].strip()
        assert "for" not in rule or DURATION.match(rule["for"]), rule
        for key in ("labels", "annotations"):
            assert all(isinstance(v, str) for v in rule.get(key, {}).values()), rule
    assert "accountd_alert == 1" in [r["expr"] for r in rules()]


def test_the_dashboard_panels_are_well_formed() -> None:
    doc = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids)) and doc["uid"] and doc["title"]
    assert all(p["targets"] and all(t["expr"] for t in p["targets"]) for p in doc["panels"])


async def test_every_metric_named_in_deploy_is_exported(
    start_server: StartServer, nats_factory: NatsFactory, world: World, tmp_path: Path
) -> None:
    a = world.account("A", conn=10)
    files = world.write(tmp_path / "files")
    server = nats_factory(operator_mode_config(files["operator"], world.sys.pub, "MEMORY",
                                               {world.sys.pub: world.sys.jwt, a.pub: a.jwt}))  # fmt: skip
    creds = tmp_path / "a.creds"
    world.user_creds(a, "u", creds)
    api = await start_server(nats=[server.url], creds=str(files["sys_creds"]))
    assert (await api.post(a.pub, a.jwt)).status in (200, 201)
    monitor: Monitor = api.server.extras["monitor"]
    client = await nats.connect(server.url, user_credentials=str(creds), name="deploy-metrics")
    try:
        await monitor.wait_until(lambda s: any(r["connections"] for r in s.accounts_view()), timeout=20)
        async with api.http.get(f"{api.url}/metrics") as resp:
            text = await resp.text()
        async with api.http.get(f"{api.url}/-/monitor/alerts") as resp:
            assert resp.status == 200
            assert set(await resp.json()) == {"alerts"}
    finally:
        await client.close()
    exported = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        exported.add(name)
        suffixes = {"counter": ["_total"], "info": ["_info"], "histogram": ["_bucket", "_sum", "_count"]}
        exported.update(name + s for s in suffixes.get(kind, []))
    declared = {n + ("_total" if kind == "counter" else "") for n, (kind, _) in METRICS.items()}
    assert declared <= exported, declared - exported
    assert {"accountd_alert", "nats_account_limit_usage_ratio", "accountd_nats_connected"} <= exported
    used = {m for expr in [r["expr"] for r in rules()] + dashboard_exprs() for m in METRIC.findall(expr)}
    assert used and not used - exported, f"not exported by accountd: {sorted(used - exported)}"
