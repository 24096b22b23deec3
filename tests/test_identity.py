"""Identity stitching: links, pre-login history, incremental runs, the merge log, unmerge."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from conftest import load_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import parcours


def ev(ts: str, event: str = "site_visit", **ids) -> dict:
    return {"event": event, "timestamp": f"2024-01-01T{ts}Z", **ids}


def customer_of(store, identifier: str) -> str:
    row = store.con.execute("SELECT customer_id FROM identity_map WHERE identifier = ?", [identifier]).fetchone()
    assert row is not None, f"{identifier} is not in the identity map"
    return row[0]


def event_customers(store) -> dict[str, str]:
    """event name -> customer, read from the journey relation the analyses use."""
    df = store.engine.df(f"SELECT event, customer_id FROM ({parcours.events_sql(store)})")
    return dict(zip(df["event"], df["customer_id"], strict=True))


def test_identify_links_anonymous_and_user_ids(store, tmp_path):
    load_events(store, [
        ev("10:00:00", "site_visit", anonymous_id="a1"),
        ev("10:05:00", "identify", type="identify", anonymous_id="a1", user_id="u1"),
        ev("10:06:00", "purchase", user_id="u1"),
    ], tmp_path)
    assert customer_of(store, "a1") == customer_of(store, "u1") == "u1"
    assert set(event_customers(store).values()) == {"u1"}
    log = parcours.merges(store)
    assert len(log) == 0  # nothing existed before this run: one new customer, not a merge


def test_alias_links_previous_id(store, tmp_path):
    load_events(store, [
        ev("10:00:00", anonymous_id="old-device"),
        ev("10:01:00", "alias", type="alias", user_id="u9", previous_id="old-device"),
    ], tmp_path)
    assert customer_of(store, "old-device") == "u9"


def test_trait_links_records_that_share_an_email(store, tmp_path):
    load_events(store, [
        ev("10:00:00", "form_submit", anonymous_id="a1", properties={"email": "Ann@Example.com "}),
        ev("11:00:00", "store_visit", user_id="crm-7", properties={"email": "ann@example.com"}),
        ev("12:00:00", "site_visit", anonymous_id="a2", properties={"email": "bob@example.com"}),
    ], tmp_path)
    assert customer_of(store, "a1") == customer_of(store, "crm-7") == customer_of(store, "email:ann@example.com")
    assert customer_of(store, "a1") == "crm-7"  # a user id wins over anonymous ids
    assert customer_of(store, "a2") != "crm-7"
    assert parcours.store_stats(store)["customers"] == 2


def test_pre_login_history_imported_earlier_is_attached(store, tmp_path):
    load_events(store, [ev("09:00:00", "ad_click", anonymous_id="dev1"), ev("09:01:00", anonymous_id="dev1")],
                tmp_path, name="visits.jsonl")
    assert set(event_customers(store).values()) == {"dev1"}
    load_events(store, [ev("12:00:00", "identify", type="identify", anonymous_id="dev1", user_id="ann")],
                tmp_path, name="logins.jsonl")
    assert set(event_customers(store).values()) == {"ann"}
    profile = parcours.customer(store, "dev1")
    assert profile.customer_id == "ann"
    assert profile.timeline["event"].tolist() == ["ad_click", "site_visit", "identify"]
    log = parcours.merges(store)
    assert log["action"].tolist() == ["merge"]
    assert log["customer_id"].tolist() == ["ann"]
    assert list(log["merged_ids"][0]) == ["ann", "dev1"]
    assert log["reason"][0] == "identify"
    assert log["logged_at"].notna().all()


def test_incremental_run_merges_two_known_customers_and_logs_the_evidence(store, tmp_path):
    load_events(store, [ev("09:00:00", anonymous_id="phone"), ev("09:30:00", user_id="ann")], tmp_path, name="1.jsonl")
    assert customer_of(store, "phone") == "phone"
    load_events(store, [ev("10:00:00", "site_visit", anonymous_id="phone", user_id="ann")], tmp_path, name="2.jsonl")
    assert customer_of(store, "phone") == "ann"
    log = parcours.merges(store)
    assert len(log) == 1
    assert sorted(log["merged_ids"][0]) == ["ann", "phone"]
    assert log["reason"][0] == "same_event"
    edges = store.con.execute("SELECT a, b, reason FROM merge_edges").fetchall()
    assert edges == [("ann", "phone", "same_event")]
    # a later run with unrelated events changes nothing for ann
    result = parcours.stitch(store)
    assert result == {"affected_identifiers": 0, "merges": 0}
    load_events(store, [ev("11:00:00", user_id="bob")], tmp_path, name="3.jsonl")
    assert customer_of(store, "phone") == "ann" and customer_of(store, "bob") == "bob"


def test_unmerge_undoes_a_wrong_merge_and_it_stays_undone(store, tmp_path):
    # a shared family email wrongly joins two people
    load_events(store, [
        ev("09:00:00", user_id="ann", properties={"email": "family@example.com"}),
        ev("09:05:00", user_id="ann"),
    ], tmp_path, name="1.jsonl")
    load_events(store, [ev("10:00:00", "purchase", user_id="bob", properties={"email": "family@example.com"})],
                tmp_path, name="2.jsonl")
    assert customer_of(store, "bob") == "ann"
    log = parcours.merges(store)
    merge_id = int(log["merge_id"].iloc[-1])
    assert log["reason"].iloc[-1] == "trait:email"

    result = parcours.unmerge(store, merge_id)
    assert sorted(result) == ["ann", "bob"]
    assert customer_of(store, "bob") == "bob" and customer_of(store, "ann") == "ann"
    assert parcours.merges(store)["action"].tolist() == ["merge", "unmerge"]

    # more events with the same evidence, a new batch, and a full rebuild: still two customers
    load_events(store, [ev("11:00:00", "site_visit", user_id="bob", properties={"email": "family@example.com"})],
                tmp_path, name="3.jsonl")
    assert customer_of(store, "bob") == "bob"
    parcours.stitch(store, full=True)
    assert customer_of(store, "bob") == "bob" and customer_of(store, "ann") == "ann"


def test_unmerge_errors(store, tmp_path):
    with pytest.raises(parcours.ParcoursError, match="merge 99: no such merge"):
        parcours.unmerge(store, 99)
    load_events(store, [ev("09:00:00", anonymous_id="d")], tmp_path, name="1.jsonl")
    load_events(store, [ev("10:00:00", anonymous_id="d", user_id="u")], tmp_path, name="2.jsonl")
    parcours.unmerge(store, 1)
    with pytest.raises(parcours.ParcoursError, match="merge 1 is already undone"):
        parcours.unmerge(store, 1)
    with pytest.raises(parcours.ParcoursError, match="merge 2 is an unmerge record"):
        parcours.unmerge(store, 2)


def test_customer_id_stays_stable_when_older_history_arrives(store, tmp_path):
    load_events(store, [ev("12:00:00", user_id="ann")], tmp_path, name="1.jsonl")
    # a CRM export with an older user id for the same person, linked by the same event
    load_events(store, [ev("01:00:00", "store_visit", user_id="crm-1", properties={"email": "a@x.org"}),
                        ev("13:00:00", user_id="ann", properties={"email": "a@x.org"})], tmp_path, name="2.jsonl")
    assert customer_of(store, "crm-1") == "ann"


# -- property test against a plain union-find ------------------------------------------------------


def union_find(n_nodes: int, edges: list[tuple[int, int]]) -> list[int]:
    parent = list(range(n_nodes))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        parent[find(a)] = find(b)
    return [find(x) for x in range(n_nodes)]


def partition(labels: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for node, label in labels.items():
        groups.setdefault(label, set()).add(node)
    return {frozenset(g) for g in groups.values()}


graphs = st.integers(2, 14).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=20),
        st.integers(1, 3),
    )
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs)
def test_components_match_union_find(graph):
    """Nodes are anonymous ids (even) and user ids (odd); an edge is one event carrying both
    ids, or, between two ids of one kind, an alias. Events arrive in 1-3 imports."""
    n, edge_list, imports = graph
    name = {i: (f"u{i}" if i % 2 else f"a{i}") for i in range(n)}
    rows = [ev("08:00:00", **({"user_id": name[i]} if i % 2 else {"anonymous_id": name[i]})) for i in range(n)]
    for k, (a, b) in enumerate(edge_list):
        ts = f"09:{k:02d}:00"
        if a % 2 != b % 2:
            user, anon = (a, b) if a % 2 else (b, a)
            rows.append(ev(ts, user_id=name[user], anonymous_id=name[anon]))
        else:
            key = "user_id" if a % 2 else "anonymous_id"
            rows.append(ev(ts, "alias", type="alias", previous_id=name[b], **{key: name[a]}))
    with tempfile.TemporaryDirectory() as tmp:
        store = parcours.open(Path(tmp) / "s.duckdb")
        try:
            size = -(-len(rows) // imports)
            for i in range(imports):
                chunk = rows[i * size:(i + 1) * size]
                if chunk:
                    load_events(store, chunk, Path(tmp), name=f"{i}.jsonl")
            got = dict(store.con.execute("SELECT identifier, customer_id FROM identity_map").fetchall())
        finally:
            store.close()
    expected_labels = union_find(n, edge_list)
    assert set(got) == set(name.values())
    assert partition(got) == partition({name[i]: str(expected_labels[i]) for i in range(n)})
    # the canonical id is a member of its customer: a user id whenever the customer has one
    for members in partition(got):
        canon = {got[m] for m in members}
        assert len(canon) == 1 and canon <= members
        if any(m.startswith("u") for m in members):
            assert next(iter(canon)).startswith("u")


def test_identify_traits_in_context_link_too(store, tmp_path):
    load_events(store, [
        ev("09:00:00", "identify", type="identify", anonymous_id="a7", context={"traits": {"phone": "+33 1 23"}}),
        ev("10:00:00", "sales_call", user_id="crm-9", properties={"phone": "+33 1 23"}),
    ], tmp_path)
    assert customer_of(store, "a7") == customer_of(store, "phone:+33 1 23") == "crm-9"
