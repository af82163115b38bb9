"""The demo's database work: bulk inserts (executemany on SQLite, COPY on PostgreSQL) and the reads
the load model and the planned outages need."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import repeat

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row

from api.core.time import UTC
from api.customers.models import Customer
from api.demo.simulation import Axis, Plan, Profiles, simulate_in_chunks
from api.demo.world import World
from api.metering.models import Feeder, Meter, TransformerArea

Progress = Callable[[str], None]
ChunkHook = Callable[[Profiles, dict[str, np.ndarray]], None]
READING_COLUMNS = ("meter_id", "ts", "kwh", "kw", "voltage_a", "current_a", "voltage_b",
                   "current_b", "voltage_c", "current_c")


def insert_rows(conn: Connection, model, rows: list[dict], chunk: int = 5000, *,
                ignore_duplicates: bool = False) -> None:
    """Insert dict rows through the model's table, a few thousand per statement.

    `ignore_duplicates` keeps a row already stored under one of the table's unique keys (ON CONFLICT DO NOTHING).
    """
    statement = insert(model)
    if ignore_duplicates:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(model).on_conflict_do_nothing()
    for i in range(0, len(rows), chunk):
        conn.execute(statement, rows[i:i + chunk])


def ts_converter(conn: Connection) -> Callable[[datetime], object]:
    """How a UTC instant is written by raw inserts: SQLAlchemy's SQLite text or naive UTC."""
    if conn.dialect.name == "sqlite":
        return lambda dt: dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return lambda dt: dt.astimezone(UTC).replace(tzinfo=None)


def bulk_rows(conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Fast insert of pre-converted rows: executemany on SQLite, COPY on PostgreSQL."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


@contextmanager
def bulk_session(conn: Connection) -> Iterator[None]:
    """On SQLite, skip per-row foreign-key lookups and use a large page cache while bulk loading.

    The pragmas only take effect outside a transaction, so the caller commits first; they are
    restored afterwards because the connection goes back to the pool.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.commit()
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    conn.exec_driver_sql("PRAGMA cache_size=-65536")
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.commit()
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.exec_driver_sql("PRAGMA cache_size=-2000")
        conn.commit()


def analyze(conn: Connection) -> None:
    """Refresh the planner's statistics after a bulk load."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        conn.exec_driver_sql("ANALYZE")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE readings, meter_events, meters, customers, transformer_areas")


def write_world(conn: Connection, world: World) -> None:
    """Insert the feeders, transformer areas, customers and meters, linking them by their new ids."""
    insert_rows(conn, Feeder, world.feeders)
    feeder_ids = dict(conn.execute(select(Feeder.code, Feeder.id)).all())
    insert_rows(conn, TransformerArea, [{
        "code": a["code"], "name": a["name"], "feeder_id": feeder_ids[world.feeders[a["feeder"]]["code"]],
        "district": a["district"], "town": a["town"], "area_class": a["area_class"],
        "capacity_kva": a["capacity_kva"], "lat": a["lat"], "lon": a["lon"],
    } for a in world.areas])
    area_ids = dict(conn.execute(select(TransformerArea.code, TransformerArea.id)).all())
    insert_rows(conn, Customer, [{
        **{k: v for k, v in c.items() if k != "area_index"},
        "transformer_area_id": area_ids[world.areas[c["area_index"]]["code"]],
    } for c in world.customers])
    customer_ids = dict(conn.execute(select(Customer.account_no, Customer.id)).all())
    insert_rows(conn, Meter, [{
        "meter_no": m["meter_no"], "customer_id": customer_ids[c["account_no"]],
        "transformer_area_id": area_ids[world.areas[c["area_index"]]["code"]],
        "phases": m["phases"], "installed_on": m["installed_on"],
        "ct_ratio": m.get("ct_ratio"), "ct_rated_a": m.get("ct_rated_a"),
    } for c, m in zip(world.customers, world.meters)])
    conn.commit()


def load_rows(conn: Connection) -> list[dict]:
    """Every meter with the customer and area fields the load model needs, by meter id."""
    query = (
        select(Meter.id.label("meter_id"), Meter.meter_no, Meter.phases, Meter.ct_ratio, Meter.customer_id,
               Meter.transformer_area_id.label("area_id"), Customer.account_no,
               Customer.customer_class, Customer.tariff_code, Customer.contract_capacity_kva,
               Customer.district, TransformerArea.area_class, TransformerArea.code.label("area_code"),
               TransformerArea.feeder_id, TransformerArea.capacity_kva)
        .join(Customer, Customer.id == Meter.customer_id)
        .join(TransformerArea, TransformerArea.id == Meter.transformer_area_id)
        .order_by(Meter.id)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def grid_rows(conn: Connection) -> tuple[dict[int, Row], dict[int, Row]]:
    """(areas, feeders) by id, in id order: what a planned-outage notice names."""
    areas = select(TransformerArea.id, TransformerArea.name, TransformerArea.code, TransformerArea.district,
                   TransformerArea.town, TransformerArea.feeder_id).order_by(TransformerArea.id)
    feeders = select(Feeder.id, Feeder.name, Feeder.district).order_by(Feeder.id)
    return {r.id: r for r in conn.execute(areas)}, {r.id: r for r in conn.execute(feeders)}


def write_readings(conn: Connection, p: Profiles, axis: Axis, temps: np.ndarray, plan: Plan,
                   progress: Progress | None, *, commit_chunks: bool = True, on_chunk: ChunkHook | None = None,
                   ) -> int:
    """Simulate and insert the hourly readings in meter chunks; `on_chunk` sees each chunk's simulation."""
    convert = ts_converter(conn)
    ts_values = [convert(dt) for dt in axis.datetimes()]
    total, started = len(p) * axis.n, time.monotonic()
    written = 0
    nothing = repeat(None)
    for sub, sim in simulate_in_chunks(p, axis, temps, plan):
        kwh = sim["kwh"].tolist()
        v = [sim[f"v{k}"].tolist() for k in range(3)]
        c = [sim[f"i{k}"].tolist() for k in range(3)]
        rows: list[tuple] = []
        for i, meter_id in enumerate(sub.meter_id.tolist()):
            ids = repeat(meter_id, axis.n)
            if sub.phases[i] == 3:
                rows.extend(zip(ids, ts_values, kwh[i], kwh[i], v[0][i], c[0][i], v[1][i], c[1][i], v[2][i], c[2][i]))
            else:
                rows.extend(zip(ids, ts_values, kwh[i], kwh[i], v[0][i], c[0][i], nothing, nothing, nothing, nothing))
        bulk_rows(conn, "readings", READING_COLUMNS, rows)
        if commit_chunks:
            conn.commit()
        if on_chunk is not None:
            on_chunk(sub, sim)
        written += len(rows)
        if progress:
            elapsed = time.monotonic() - started
            progress(f"  readings: {written:,}/{total:,} ({100 * written / total:.0f}%) {elapsed:.1f}s")
    return written
