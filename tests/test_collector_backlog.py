"""The collector's backlog is bounded: beyond it, 503 + Retry-After; nothing acknowledged is lost."""

from __future__ import annotations

import json

import httpx
from server_process import Server, cli, create_key

from parcours.server.wal import segments, wal_dir


def test_a_full_backlog_answers_503_and_keeps_every_acknowledged_event(tmp_path):
    db = tmp_path / "busy.duckdb"
    key = create_key(db, "write", "web")
    # the applier waits 60 s before applying: the backlog can only grow
    with Server(db, "--max-backlog", "100", "--apply-interval", "60") as srv, \
            httpx.Client(base_url=srv.url, auth=(key, ""), timeout=10) as http:
        acked, refused = 0, []
        for n in range(6):
            batch = [{"type": "track", "userId": f"u{i}", "event": "view", "messageId": f"b{n}-{i}"}
                     for i in range(40)]
            r = http.post("/v1/batch", json={"batch": batch})
            if r.status_code == 200:
                acked += r.json()["accepted"]
            else:
                refused.append(r)
        assert acked == 120  # 0, 40, 80 were below the bound; at 120 the door closes
        assert [r.status_code for r in refused] == [503, 503, 503]
        assert 1 <= int(refused[0].headers["Retry-After"]) <= 30
        assert "backlog is full" in refused[0].json()["errors"][0]["message"]
        metrics = http.get("/metrics").json()
        assert metrics["queue_depth"] == 120 and metrics["busy"] == 3 and metrics["queue_bytes"] > 0

        # a command beside the server has the backlog applied first: every acknowledged event is there
        r = cli(db, "stats", "--format", "json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["events_by_name"]["view"] == 120
        assert http.get("/metrics").json()["queue_depth"] == 0
        # ... and the log segments it applied are gone (only the open one remains)
        assert len(segments(wal_dir(db))) == 1
        retry = http.post("/v1/batch", json={"batch": [{"type": "track", "userId": "u", "event": "view",
                                                         "messageId": "again"}]})
        assert retry.status_code == 200
