"""Demo generation: time and peak memory at scale 1 and 50, on SQLite and PostgreSQL.

Each measurement runs in a child process with its own database, so that the operator's
data is never touched and the peak resident memory (``ru_maxrss``) is the generator's
own: SQLite in a fresh temporary data directory, PostgreSQL in the ``demo_bench``
database (created if absent; ``VROP_BENCH_DATABASE_URL`` overrides it).

    vrop bench demo --quick     scale 1, two months, SQLite (under a minute)
    vrop bench demo             scale 1 and 50 on SQLite and PostgreSQL
    vrop bench demo --scale 5   one scale on both databases
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PG_URL = os.environ.get("VROP_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/demo_bench")
TIMEOUT_S = 20 * 60


def _ensure_pg_database(url: str) -> bool:
    import dj_database_url
    import psycopg

    params = dj_database_url.parse(url)
    try:
        with psycopg.connect(
            host=params["HOST"] or "127.0.0.1",
            port=params["PORT"] or 5432,
            user=params["USER"],
            password=params["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
            connect_timeout=5,
        ) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (params["NAME"],)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{params["NAME"]}"')
    except Exception as error:  # noqa: BLE001 - reported, the other measurements still run
        print(f"  PostgreSQL at {url} is not reachable: {error}")
        return False
    return True


def _measure(database: str, scale: int, months: int) -> dict | None:
    env = os.environ.copy()
    env["DJANGO_SETTINGS_MODULE"] = "vrop.settings"
    env.pop("REDIS_URL", None)
    data_dir = tempfile.mkdtemp(prefix="vrop-bench-demo-")
    env["VROP_DATA_DIR"] = data_dir
    if database == "postgresql":
        env["DATABASE_URL"] = PG_URL
    else:
        env.pop("DATABASE_URL", None)
    command = [sys.executable, str(Path(__file__).resolve()), str(scale), str(months)]
    started = time.monotonic()
    try:
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        size = sum(p.stat().st_size for p in Path(data_dir).glob("vrop.sqlite3*"))
        print(f"  {database} scale {scale}: stopped after {TIMEOUT_S} s ({size >> 20} MiB written)")
        shutil.rmtree(data_dir, ignore_errors=True)
        return None
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        print(f"  {database} scale {scale}: failed\n{result.stderr[-2000:]}")
        shutil.rmtree(data_dir, ignore_errors=True)
        return None
    figures = json.loads(lines[-1])
    figures["wall_s"] = round(time.monotonic() - started, 1)
    if database == "sqlite":
        size = sum(p.stat().st_size for p in Path(data_dir).glob("vrop.sqlite3*"))
        figures["db_mb"] = round(size / 2**20)
    shutil.rmtree(data_dir, ignore_errors=True)
    return figures


def _report(database: str, scale: int, months: int, figures: dict) -> None:
    rows = sum(figures["counts"].values())
    print(
        f"  {database:<10} scale {scale:>3}, {months:>2} months: "
        f"{figures['counts']['deal']:>9,} deals, {rows:>11,} rows in "
        f"{figures['generate_s']:>7.1f} s ({rows / figures['generate_s']:,.0f} rows/s), "
        f"peak RSS {figures['peak_rss_mb']} MiB, generator CPU {figures.get('cpu_s')} s; "
        f"migrate {figures['migrate_s']} s"
        + (f"; database {figures['db_mb']} MiB" if "db_mb" in figures else ""),
        flush=True,
    )


def run(scale=None, quick=False):
    if quick:
        plan = [("sqlite", 1, 2)]
    elif scale:
        plan = [("sqlite", scale, 12), ("postgresql", scale, 12)]
    else:
        plan = [
            ("sqlite", 1, 12),
            ("postgresql", 1, 12),
            ("postgresql", 50, 12),
            ("sqlite", 50, 12),
        ]
    pg_ready = None
    for database, size, months in plan:
        if database == "postgresql":
            pg_ready = _ensure_pg_database(PG_URL) if pg_ready is None else pg_ready
            if not pg_ready:
                continue
        figures = _measure(database, size, months)
        if figures:
            _report(database, size, months, figures)


def _child(scale: int, months: int) -> None:
    """In the child: migrate, generate (resetting what a previous run left), report."""
    import resource

    import django

    django.setup()
    from django.core.management import call_command

    from vrop.demo.generator import generate_demo

    started = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    migrated = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    counts = generate_demo(seed=1, scale=scale, months=months, reset=True)
    done = time.monotonic()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak = usage.ru_maxrss // 1024
    print(
        json.dumps(
            {
                "migrate_s": round(migrated - started, 1),
                "generate_s": round(done - migrated, 1),
                "peak_rss_mb": peak,
                "cpu_s": round(usage.ru_utime + usage.ru_stime - cpu_before, 1),
                "counts": counts,
            }
        )
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    _child(int(sys.argv[1]), int(sys.argv[2]))
