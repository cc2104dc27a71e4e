"""Live samples that arrive together are committed together (functions/grouping.py),
and each request still gets the answer it would have had alone."""

from __future__ import annotations

import json
import threading

import psycopg
import pytest

from functions.grouping import GroupWriter

from .conftest import wait_until


@pytest.fixture
def writer(app) -> GroupWriter:
    """One group in flight at a time, so the test decides when the next one forms."""
    group = GroupWriter(app.extensions["vigie_db"], limit=64, leaders=1)
    app.extensions["vigie_writer"] = group
    return group


def post_all(api, posts: list[tuple[int, str, dict]]) -> list:
    """Each (server id, token, fields) posted from its own thread; the answers."""
    answers: list = [None] * len(posts)

    def post(i: int, sid: int, token: str, fields: dict) -> None:
        answers[i] = api.post_sample(sid, token, **fields)

    threads = [threading.Thread(target=post, args=(i, *p)) for i, p in enumerate(posts)]
    for thread in threads:
        thread.start()
    return threads, answers


def held_server(direct_database_url: str, server_id: int) -> psycopg.Connection:
    """A transaction holding the server's row: its write waits until it commits."""
    conn = psycopg.connect(direct_database_url)
    conn.execute("SELECT 1 FROM servers WHERE id = %s FOR UPDATE", [server_id])
    return conn


def write_ids(db, server_id: int) -> list:
    return [
        r["xmin"]
        for r in db.execute(
            "SELECT xmin::text FROM metric_writes WHERE server_id = %s", [server_id]
        ).fetchall()
    ]


def queue_behind_first(api, writer, direct_database_url, posts):
    """The first post is written alone and held in the database; the others queue
    meanwhile, then go as one group once it is released."""
    first_sid = posts[0][0]
    hold = held_server(direct_database_url, first_sid)
    first_threads, first_answers = post_all(api, posts[:1])
    wait_until(
        lambda: hold.execute(
            "SELECT count(*) FROM pg_locks"
            " WHERE NOT granted AND locktype IN ('tuple', 'transactionid')"
        ).fetchone()[0],
        what="the first write waits for the held row",
    )
    threads, answers = post_all(api, posts[1:])
    wait_until(lambda: writer.waiting() == len(posts) - 1, what="the others queued")
    hold.commit()
    hold.close()
    for thread in first_threads + threads:
        thread.join(30)
    return first_answers + answers


def test_writes_that_arrive_together_share_one_transaction(api, db, writer, direct_database_url):
    servers = [api.register(hostname=f"web-{i}") for i in range(5)]
    listener = psycopg.connect(direct_database_url, autocommit=True)
    listener.execute("LISTEN vigie_events")
    posts = [(sid, token, {}) for sid, token in servers]
    answers = queue_behind_first(api, writer, direct_database_url, posts)

    assert [a.status_code for a in answers] == [201] * 5
    for (sid, _), answer in zip(servers, answers, strict=True):
        row = db.execute("SELECT server_id FROM metrics WHERE id = %s", [answer.json["id"]])
        assert row.fetchone()["server_id"] == sid
    grouped = {x for sid, _ in servers[1:] for x in write_ids(db, sid)}
    assert len(grouped) == 1, "the four queued writes committed in one transaction"
    assert write_ids(db, servers[0][0])[0] not in grouped
    # Each write still sent its own NOTIFY.
    told = [json.loads(n.payload) for n in listener.notifies(timeout=5, stop_after=5)]
    assert sorted(t["server_id"] for t in told if t["kind"] == "metrics") == [
        sid for sid, _ in servers
    ]
    listener.close()


def test_a_refused_write_in_a_group_refuses_only_itself(api, db, writer, direct_database_url):
    servers = [api.register(hostname=f"db-{i}") for i in range(5)]
    retried = "2026-01-01T00:00:00Z"
    stored_before = api.post_sample(servers[3][0], servers[3][1], recorded_at=retried)
    assert stored_before.status_code == 201
    posts = [
        (servers[0][0], servers[0][1], {}),
        (servers[1][0], servers[1][1], {}),
        (servers[2][0], "vgi_not-the-token", {}),  # refused: wrong token
        (servers[3][0], servers[3][1], {"recorded_at": retried}),  # a retry
        (servers[4][0], servers[4][1], {"cpu_percent": 12.5}),
    ]
    answers = queue_behind_first(api, writer, direct_database_url, posts)

    assert [a.status_code for a in answers] == [201, 201, 403, 200, 201]
    assert answers[2].json["error"] == "invalid_token"
    assert answers[3].json == {**stored_before.json, "duplicate": True}
    counts = {
        r["server_id"]: r["n"]
        for r in db.execute("SELECT server_id, count(*) AS n FROM metrics GROUP BY 1").fetchall()
    }
    assert counts == {servers[0][0]: 1, servers[1][0]: 1, servers[3][0]: 1, servers[4][0]: 1}
    cpu = db.execute("SELECT cpu_percent FROM metrics WHERE server_id = %s", [servers[4][0]])
    assert cpu.fetchone()["cpu_percent"] == 12.5


def test_one_write_at_a_time_when_grouping_is_off(api, db, app):
    app.extensions["vigie_writer"] = GroupWriter(app.extensions["vigie_db"], limit=1)
    sid, token = api.register()
    assert api.post_sample(sid, token).status_code == 201
    assert app.extensions["vigie_writer"].waiting() == 0
    assert db.execute("SELECT count(*) AS n FROM metrics").fetchone()["n"] == 1
