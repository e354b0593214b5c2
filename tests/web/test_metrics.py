"""``/metrics`` without NATS: accountd's own series, in the Prometheus text format."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from serving import Running


async def test_metrics_without_nats_has_accountd_series(api: Running) -> None:
    a = api.world.account("A")
    await api.post(a.pub, a.jwt)
    async with api.http.get(api.account_url(a.pub)) as r:
        assert r.status == 200
    async with api.http.get(api.url + "/metrics") as r:
        assert r.status == 200
        families = {f.name: f for f in text_string_to_metric_families(await r.text())}
    http = {(s.labels["method"], s.labels["status"]): s.value for s in families["accountd_http_requests"].samples
            if s.name.endswith("_total")}
    assert http[("POST", "200")] == 1
    assert http[("GET", "200")] == 1
    assert families["accountd_outbox_depth"].samples[0].value == 1  # no NATS: the change waits
    writes = {s.labels["outcome"]: s.value for s in families["accountd_account_writes"].samples
              if s.name.endswith("_total")}
    assert writes["puts"] == 1
    assert "accountd_store_records" in families
    # the POST filled the cache, the GET was served from it
    assert families["accountd_cache_hits"].samples[0].value == 1
    assert families["accountd_cache_entries"].samples[0].value == 1
    assert {"accountd_cache_misses", "accountd_cache_evictions", "accountd_cache_bytes"} <= families.keys()
    info = families.get("accountd") or families["accountd_info"]
    assert info.samples[0].labels["version"]
