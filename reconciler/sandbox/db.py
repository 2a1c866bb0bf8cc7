"""SQLite storage: one file in WAL mode, one shared connection behind a lock.

FastAPI runs sync endpoints in a threadpool. A single connection guarded by a lock makes every
request one atomic unit (reads see a consistent snapshot, writes commit or roll back whole),
which is all a local emulator needs. Other processes (``sandbox seed``) may write the same file:
WAL plus a busy timeout lets them interleave safely.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reconciler.sandbox.like import pg_like

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, name TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS materials (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL, name TEXT NOT NULL, manufacturer TEXT, product_id TEXT,
    definition TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    scope TEXT NOT NULL DEFAULT '');
CREATE UNIQUE INDEX IF NOT EXISTS materials_scoped_identity
    ON materials(project_id, name, ifnull(manufacturer, ''), scope);
CREATE TABLE IF NOT EXISTS components (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL, component_type TEXT NOT NULL,
    material_id TEXT REFERENCES materials(id), properties TEXT NOT NULL, identity TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS components_identity
    ON components(project_id, component_type, identity);
CREATE TABLE IF NOT EXISTS cell_specifications (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL, name TEXT NOT NULL, form_factor TEXT, manufacturer TEXT,
    ratings TEXT, properties TEXT, source TEXT, notes TEXT,
    anode_id TEXT REFERENCES components(id), cathode_id TEXT REFERENCES components(id),
    electrolyte_id TEXT REFERENCES components(id), separator_id TEXT REFERENCES components(id),
    case_id TEXT REFERENCES components(id),
    created_by TEXT NOT NULL, created_by_email TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    UNIQUE (project_id, name));
CREATE INDEX IF NOT EXISTS specs_org_created
    ON cell_specifications(organization_id, created_at, id);
CREATE INDEX IF NOT EXISTS specs_org_updated
    ON cell_specifications(organization_id, updated_at, id);
CREATE INDEX IF NOT EXISTS specs_org_name
    ON cell_specifications(organization_id, name, id);
CREATE INDEX IF NOT EXISTS specs_org_project_created
    ON cell_specifications(organization_id, project_id, created_at, id);
CREATE INDEX IF NOT EXISTS specs_org_project_updated
    ON cell_specifications(organization_id, project_id, updated_at, id);
CREATE INDEX IF NOT EXISTS specs_org_project_name
    ON cell_specifications(organization_id, project_id, name, id);
CREATE TABLE IF NOT EXISTS cell_batches (
    id TEXT PRIMARY KEY,
    cell_specification_id TEXT NOT NULL REFERENCES cell_specifications(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL, organization_id TEXT NOT NULL,
    name TEXT NOT NULL, name_key TEXT NOT NULL, notes TEXT, date_manufactured TEXT,
    properties TEXT, created_by TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    UNIQUE (cell_specification_id, name_key));
CREATE INDEX IF NOT EXISTS batches_spec_created
    ON cell_batches(cell_specification_id, created_at, id);
CREATE TABLE IF NOT EXISTS cell_instances (
    id TEXT PRIMARY KEY,
    cell_specification_id TEXT NOT NULL REFERENCES cell_specifications(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL, organization_id TEXT NOT NULL, name TEXT NOT NULL,
    batch_id TEXT REFERENCES cell_batches(id) ON DELETE SET NULL,
    measured_properties TEXT, date_manufactured TEXT, notes TEXT,
    created_by TEXT NOT NULL, created_by_email TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    UNIQUE (cell_specification_id, name));
CREATE INDEX IF NOT EXISTS instances_spec_created
    ON cell_instances(cell_specification_id, created_at, id);
CREATE INDEX IF NOT EXISTS instances_batch ON cell_instances(batch_id);
CREATE TABLE IF NOT EXISTS cell_measurements (
    id TEXT PRIMARY KEY,
    cell_instance_id TEXT NOT NULL REFERENCES cell_instances(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL, organization_id TEXT NOT NULL, name TEXT NOT NULL,
    measurement_type TEXT NOT NULL, properties TEXT, protocol TEXT, test_setup TEXT,
    start_time TEXT, end_time TEXT, notes TEXT, tags TEXT NOT NULL,
    step_labels_validated INTEGER NOT NULL DEFAULT 0, file_metadata TEXT,
    created_by TEXT NOT NULL, created_by_email TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    UNIQUE (cell_instance_id, name));
CREATE INDEX IF NOT EXISTS measurements_instance_created
    ON cell_measurements(cell_instance_id, created_at, id);
"""

DATA_TABLES = (
    "cell_measurements",
    "cell_instances",
    "cell_batches",
    "cell_specifications",
    "components",
    "materials",
)
"""Tables emptied by a reset, children first."""


def new_id() -> str:
    """Ids are UUID strings, as in the real API."""
    return str(uuid.uuid4())


def dumps(value: Any) -> str | None:
    """JSON text for a TEXT column; None stays SQL NULL."""
    return None if value is None else json.dumps(value, separators=(",", ":"), allow_nan=False)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def format_instant(moment: datetime) -> str:
    """ISO 8601, UTC, always with microseconds, so text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class Clock:
    """Strictly increasing timestamps, even for two calls in the same microsecond."""

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self, after: str | None = None) -> str:
        """The current instant, later than every earlier call and than ``after`` if given."""
        with self._lock:
            moment = max(datetime.now(UTC), self._last + timedelta(microseconds=1))
            if after is not None:
                moment = max(moment, datetime.fromisoformat(after) + timedelta(microseconds=1))
            self._last = moment
            return format_instant(moment)


@dataclass(frozen=True)
class Tenant:
    """The one organization, user and default project a sandbox database serves."""

    organization_id: str
    organization_name: str
    user_id: str
    user_email: str
    default_project_id: str


class Tx:
    """One unit of work on the shared connection (held under the database lock)."""

    def __init__(self, conn: sqlite3.Connection, tenant: Tenant, clock: Clock) -> None:
        self.conn = conn
        self.tenant = tenant
        self.clock = clock

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return list(self.conn.execute(sql, params).fetchall())

    def now(self, after: str | None = None) -> str:
        return self.clock.now(after)

    def update(self, table: str, row: sqlite3.Row, changes: dict[str, Any]) -> None:
        """Write ``changes`` to ``row`` and move its ``updated_at`` past the stored value."""
        values = {**changes, "updated_at": self.now(after=row["updated_at"])}
        assignments = ", ".join(f"{column} = ?" for column in values)
        self.execute(
            f"UPDATE {table} SET {assignments} WHERE id = ?", (*values.values(), row["id"])
        )


class DatabaseUnusable(Exception):
    """The file cannot serve as a sandbox database: not SQLite, unreachable, or foreign."""


class Database:
    """The sandbox's sqlite file. Creates the schema and the tenant on first open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = Clock()
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise DatabaseUnusable(f"cannot open {path}: {exc}") from None
        try:
            self._prepare()
        except sqlite3.Error as exc:
            self._conn.close()
            raise DatabaseUnusable(f"{path} is not a sandbox database ({exc})") from None

    def _prepare(self) -> None:
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA busy_timeout = 10000")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.create_function("pglike", 3, pg_like, deterministic=True)
        with self._lock:
            self._migrate()
            self._conn.executescript(SCHEMA)
            self.tenant = self._ensure_tenant()

    def _migrate(self) -> None:
        """Bring a file made by an older sandbox up to SCHEMA (which only adds what is missing)."""
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(materials)")}
        if columns and "scope" not in columns:  # per-spec materials (material_upsert)
            self._conn.execute("ALTER TABLE materials ADD COLUMN scope TEXT NOT NULL DEFAULT ''")
        self._conn.execute("DROP INDEX IF EXISTS materials_identity")

    def _ensure_tenant(self) -> Tenant:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
            if "default_project_id" not in meta:
                meta = {
                    "organization_id": new_id(),
                    "organization_name": "Sandbox organization",
                    "user_id": new_id(),
                    "user_email": "sandbox@localhost",
                    "default_project_id": new_id(),
                }
                self._conn.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
            tenant = Tenant(**{key: meta[key] for key in Tenant.__dataclass_fields__})
            self._ensure_default_project(tenant)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return tenant

    def _ensure_default_project(self, tenant: Tenant) -> None:
        now = self.clock.now()
        self._conn.execute(
            "INSERT OR IGNORE INTO projects VALUES (?, ?, ?, ?, ?)",
            (tenant.default_project_id, tenant.organization_id, "Sandbox project", now, now),
        )

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction: commits when the block ends, rolls back if it raises."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._conn, self.tenant, self.clock)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[Tx]:
        """A read transaction: every query inside sees the same state."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield Tx(self._conn, self.tenant, self.clock)
            finally:
                self._conn.execute("ROLLBACK")

    def reset(self) -> None:
        """Empty every data table; keep the tenant and the default project."""
        with self.transaction() as tx:
            for table in DATA_TABLES:
                tx.execute(f"DELETE FROM {table}")
            tx.execute("DELETE FROM projects WHERE id != ?", (self.tenant.default_project_id,))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
