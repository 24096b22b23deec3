"""The dashboard under bad input and the wrong key, in process (Starlette's TestClient runs the
real app, lifespan included, over a copy of the demo store): every GET route's query parameters
are fuzzed and none may answer 5xx; a bad parameter is a 400 with its message; state changes
need a write or admin key and, for a cookie session, the session's CSRF token."""

from __future__ import annotations

import re

import pytest
from dashboard_demo import copy_of_demo
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

import parcours
from parcours.server import create_app
from parcours.server.keys import create_key
from parcours.web.routes import DashboardRoute, public, router

BAD_VALUES = ["x", "", "-1", "99999999999999999999", "' OR 1=1 --", "2024-13-45", "\u00e9" * 600]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    db = copy_of_demo(tmp_path_factory.getbasetemp(), tmp_path_factory.mktemp("webh") / "store.duckdb")
    with parcours.open(db) as store:
        keys = {role: create_key(store, role, f"{role}-h") for role in ("read", "write", "admin")}
    with TestClient(create_app(db)) as client:
        yield client, keys


def _login(client: TestClient, key: str) -> None:
    client.cookies.clear()
    r = client.post("/login", data={"key": key, "next": "/voc"}, follow_redirects=False)
    assert r.status_code == 303, r.text


def test_bad_followup_status_is_a_400_with_the_message(app):
    client, keys = app
    r = client.get("/voc?followup_status=x", headers={"Authorization": f"Bearer {keys['read']}"})
    assert r.status_code == 400
    assert "x" in r.json()["errors"][0]["message"]
    r = client.get("/funnels?drop_step=abc", headers={"Authorization": f"Bearer {keys['read']}",
                                                         "Accept": "text/html"})
    assert r.status_code == 400 and "drop_step" in r.text and 'id="page-error"' in r.text


def test_every_dashboard_route_answers_bad_parameters_without_a_server_error(app):
    client, keys = app
    auth = {"Authorization": f"Bearer {keys['read']}"}
    routes = [r for r in [*router.routes, *public.routes] if isinstance(r, APIRoute) and "GET" in r.methods
              and "{" not in r.path]
    assert all(isinstance(r, DashboardRoute) for r in routes)  # the one 400 mechanism covers them all
    assert len(routes) >= 12
    names = {"from", "to", "segment", "channel", "step", "lang"}  # read from the query by the filter bar
    tried = 0
    for route in routes:
        params = {p.alias for p in route.dependant.query_params} | names
        for name in sorted(params):
            for value in BAD_VALUES:
                r = client.get(route.path, params={name: value}, headers=auth)
                tried += 1
                assert r.status_code < 500, (route.path, name, value, r.text[:300])
                if r.status_code == 400:
                    assert r.json()["errors"][0]["message"], (route.path, name, value)
    assert tried > 200


def test_state_changes_need_a_write_or_admin_key(app):
    client, keys = app
    client.cookies.clear()
    for path in ("/voc/followups", "/voc/followups/1"):
        r = client.post(path, data={"status": "closed"}, headers={"Authorization": f"Bearer {keys['read']}"},
                        follow_redirects=False)
        assert r.status_code == 403, (path, r.status_code)
        assert "write or admin" in r.json()["errors"][0]["message"]
    r = client.post("/voc/followups/1", data={"status": "contacted"},
                    headers={"Authorization": f"Bearer {keys['admin']}"}, follow_redirects=False)
    assert r.status_code == 303
    # a read key signed in by cookie cannot either, even with the page's token
    _login(client, keys["read"])
    page = client.get("/voc")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    r = client.post("/voc/followups/1", data={"status": "closed", "csrf": token}, follow_redirects=False)
    assert r.status_code == 403


def test_cookie_sessions_need_the_csrf_token(app):
    client, keys = app
    _login(client, keys["admin"])
    page = client.get("/voc")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    for data in ({"status": "closed"}, {"status": "closed", "csrf": "0" * 64}):
        r = client.post("/voc/followups/1", data=data, follow_redirects=False)
        assert r.status_code == 403 and "CSRF" in r.json()["errors"][0]["message"]
    r = client.post("/voc/followups/1", data={"status": "resolved", "csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    r = client.post("/voc/followups", headers={"X-CSRF-Token": token}, follow_redirects=False)
    assert r.status_code == 303


def test_bad_parameters_of_state_changing_routes_are_400s(app):
    client, keys = app
    client.cookies.clear()
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    for path, data in (("/voc/followups/abc", {"status": "open"}), ("/voc/followups/1", {"status": "x"}),
                       ("/voc/followups/99999999", {"status": "open"})):
        r = client.post(path, data=data, headers=admin, follow_redirects=False)
        assert r.status_code == 400 and r.json()["errors"][0]["message"], (path, r.status_code, r.text[:200])
    assert client.post("/login", content=b"\xff\x00key", follow_redirects=False).status_code == 401
