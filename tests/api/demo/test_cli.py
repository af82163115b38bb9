"""`python -m api.demo`: seed (schema by migration), refresh with --if-missing, list the accounts."""
from __future__ import annotations

from sqlalchemy import func, select

from api.customers.models import Customer
from api.db import make_engine
from api.demo.__main__ import main
from api.demo.showcase import EXTRA_ACCOUNTS, SHOWCASE
from api.metering.models import Reading
from api.settings import get_settings


def test_seed_refresh_and_accounts(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        assert main(["seed", "--customers", "60", "--days", "2", "--seed", "3"]) == 0
        out = capsys.readouterr().out
        assert "demo ready" in out and "readings" in out
        engine = make_engine(url)
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Customer)) == 60
            assert conn.scalar(select(func.count()).select_from(Reading)) == 60 * 48
        engine.dispose()

        assert main(["seed"]) == 1  # refuses to seed twice
        assert "already present" in capsys.readouterr().err
        assert main(["seed", "--if-missing"]) == 0  # refreshes instead (here: already current)
        assert "demo" in capsys.readouterr().out

        assert main(["accounts"]) == 0
        table = capsys.readouterr().out
        for account_no, mobile in {**SHOWCASE, **EXTRA_ACCOUNTS}.values():
            assert account_no in table and mobile in table
        assert "台区故障停电中的居民" in table and "[" in table  # names and places from the database
    finally:
        get_settings.cache_clear()
