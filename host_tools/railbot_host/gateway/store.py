"""The gateway's durable state in SQLite: requests, sessions, meter readings, events, the OCPP outbox, accounts.

Every change is one SQLite transaction committed before the gateway acts on it (WAL, synchronous
FULL), so a gateway killed at any instant finds on restart exactly what it had decided: the
request it accepted, the session it opened, the OCPP message it queued and not yet had
acknowledged. What it had done but not yet recorded (a command the robot ran, a call the CSMS
answered) it finds out again from the robot's record and from the CSMS's answer to the same
message id.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY, bay INTEGER NOT NULL, id_tag TEXT NOT NULL, source TEXT NOT NULL,
    state TEXT NOT NULL,            -- accepted, queued (the robot has it), delivered, done, cancelled, timed_out
    created_ms INTEGER NOT NULL, eta_s INTEGER, free_unit INTEGER NOT NULL DEFAULT 0,
    queued_ms INTEGER, delivered_ms INTEGER, unit INTEGER, ended_ms INTEGER);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY, bay INTEGER NOT NULL, unit INTEGER NOT NULL, request_id INTEGER,
    id_tag TEXT NOT NULL, state TEXT NOT NULL,   -- open, stopped (transaction over), released
    start_ms INTEGER NOT NULL, meter_start_wh INTEGER NOT NULL, stop_ms INTEGER,
    meter_stop_wh INTEGER, stop_reason TEXT, tx_id INTEGER, last_sample_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meter_readings (
    session_id INTEGER NOT NULL, t_ms INTEGER NOT NULL, wh INTEGER NOT NULL, pilot TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, t_ms INTEGER NOT NULL, bay INTEGER, kind TEXT NOT NULL, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY, unique_id TEXT NOT NULL UNIQUE, action TEXT NOT NULL,
    payload TEXT NOT NULL, session_id INTEGER, created_ms INTEGER NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0, acked_ms INTEGER);
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, salt BLOB NOT NULL, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS bay_tokens (bay INTEGER PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

#: Requests that still want the robot's or the unit's attention.
OPEN_REQUEST = ("accepted", "queued", "delivered")


class Store:
    """One SQLite file. Methods commit before they return."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def tx(self):
        """A transaction: `with store.tx(): ...` commits at the end, rolls back on an exception."""
        return _Tx(self.db)

    def one(self, sql: str, *args):
        return self.db.execute(sql, args).fetchone()

    def all(self, sql: str, *args) -> list[sqlite3.Row]:
        return self.db.execute(sql, args).fetchall()

    def run(self, sql: str, *args) -> int:
        with self.tx():
            return self.db.execute(sql, args).lastrowid

    # --- settings (OCPP configuration keys live here) ---
    def setting(self, key: str, default: str | None = None) -> str | None:
        row = self.one("SELECT value FROM settings WHERE key=?", key)
        return row["value"] if row else default

    def set_setting(self, key: str, value: str) -> None:
        self.run("INSERT INTO settings(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                 key, value)

    # --- requests ---
    def open_request(self, bay: int):
        return self.one("SELECT * FROM requests WHERE bay=? AND state IN ('accepted','queued','delivered') "
                        "ORDER BY id DESC LIMIT 1", bay)

    def open_requests(self) -> list[sqlite3.Row]:
        return self.all("SELECT * FROM requests WHERE state IN ('accepted','queued','delivered') ORDER BY id")

    def set_request(self, rid: int, **fields) -> None:
        cols = ", ".join(f"{k}=?" for k in fields)
        self.run(f"UPDATE requests SET {cols} WHERE id=?", *fields.values(), rid)

    # --- sessions ---
    def open_session(self, bay: int):
        return self.one("SELECT * FROM sessions WHERE bay=? AND state IN ('open','stopped') ORDER BY id DESC LIMIT 1", bay)

    def set_session(self, sid: int, **fields) -> None:
        cols = ", ".join(f"{k}=?" for k in fields)
        self.run(f"UPDATE sessions SET {cols} WHERE id=?", *fields.values(), sid)

    # --- events ---
    def event(self, t_ms: int, kind: str, text: str, bay: int | None = None) -> int:
        return self.run("INSERT INTO events(t_ms, bay, kind, text) VALUES(?, ?, ?, ?)", t_ms, bay, kind, text)

    def events_after(self, after_id: int, bay: int | None = None, limit: int = 200) -> list[sqlite3.Row]:
        if bay is None:
            return self.all("SELECT * FROM events WHERE id>? ORDER BY id LIMIT ?", after_id, limit)
        return self.all("SELECT * FROM events WHERE id>? AND bay=? ORDER BY id LIMIT ?", after_id, bay, limit)

    # --- the OCPP outbox: transaction messages, in order, until acknowledged ---
    def queue_call(self, unique_id: str, action: str, payload: dict, session_id: int | None, t_ms: int) -> None:
        self.run("INSERT INTO outbox(unique_id, action, payload, session_id, created_ms) VALUES(?, ?, ?, ?, ?)",
                 unique_id, action, json.dumps(payload), session_id, t_ms)

    def next_call(self):
        return self.one("SELECT * FROM outbox WHERE acked_ms IS NULL ORDER BY seq LIMIT 1")

    def unacked_calls(self) -> int:
        return self.one("SELECT COUNT(*) AS n FROM outbox WHERE acked_ms IS NULL")["n"]


class _Tx:
    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, *_):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
