"""Demo staff accounts, one per role (listed in README; demo passwords, never for production)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from api.staff.models import StaffUser
from api.staff.security import hash_password

# username, display name, role, password, crew, team
DEMO_STAFF = (
    ("agent01", "王丽", "agent", "Demo-agent-01", None, "95598一组"),
    ("agent02", "李娜", "agent", "Demo-agent-02", None, "95598一组"),
    ("supervisor01", "张伟", "supervisor", "Demo-supervisor-01", None, "95598一组"),
    ("crew.yz01", "原州城区抢修一班", "crew", "Demo-crew-yz01", "YZ-01", None),
    ("crew.yz04", "原州计量班", "crew", "Demo-crew-yz04", "YZ-04", None),  # 用电检查: audit tasks
    ("auditor01", "马强", "auditor", "Demo-auditor-01", None, "营销稽查"),
    ("admin", "系统管理员", "admin", "Demo-admin-0001", None, None),
)


def ensure_demo_staff(conn: Connection, now: datetime) -> int:
    """Add the demo accounts that are missing; returns how many were added."""
    have = set(conn.scalars(select(StaffUser.username)))
    rows = [{"username": u, "display_name": n, "role": r, "password_hash": hash_password(p), "crew_id": c,
             "team": t, "active": True, "created_at": now} for u, n, r, p, c, t in DEMO_STAFF if u not in have]
    if rows:
        conn.execute(insert(StaffUser), rows)
    return len(rows)
