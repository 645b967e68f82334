"""Today page and control board: server time per page (p50, p95) and SQL queries per page,
through the whole Django stack in process (middleware, session, templates), against the
configured database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench50 vrop bench today
    VROP_DATA_DIR=/tmp/s50 vrop bench today

Against a database that already holds a company it writes NOTHING: the logged-in
session lives in a signed cookie, ``last_login`` is not updated, and on PostgreSQL the
connection is put in read-only mode (``default_transaction_read_only``; SQLite:
``PRAGMA query_only``), so a shared benchmark database is safe. With no deals it first creates the demo company at
``--scale`` (``--quick``: 2 000 synthetic deals).
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(int(round(0.95 * len(ordered))) - 1, 0)]


def _measure(client, url: str, runs: int) -> tuple[list[float], int, float]:
    """Timings of ``runs`` requests after one warm-up; queries and their SQL ms of one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)  # warm
    assert response.status_code == 200, (url, response.status_code)
    queries = captured.captured_queries  # read now: the next request clears the log
    sql_ms = sum(float(query["time"]) for query in queries) * 1000
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return timings, len(queries), sql_ms


@contextmanager
def read_only():
    """No writes for the duration: sessions in signed cookies, and a read-only connection
    (PostgreSQL ``default_transaction_read_only``, SQLite ``query_only``), so that any
    write fails loudly instead of touching shared data."""
    from django.conf import settings
    from django.db import connection

    saved = settings.SESSION_ENGINE
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    guard = {
        "postgresql": (
            "SET SESSION default_transaction_read_only = on",
            "SET SESSION default_transaction_read_only = off",
        ),
        "sqlite": ("PRAGMA query_only = ON", "PRAGMA query_only = OFF"),
    }.get(connection.vendor)
    if guard:
        with connection.cursor() as cursor:
            cursor.execute(guard[0])
    try:
        yield
    finally:
        if guard:
            with connection.cursor() as cursor:
                cursor.execute(guard[1])
        settings.SESSION_ENGINE = saved


def logged_in_client(user):
    """A test client with ``user``'s session, made without ``login()`` (whose signals
    write: ``last_login``, the axes access log)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.test import Client

    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS.append("testserver")
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    return client


def run(scale=None, quick=False):
    from django.conf import settings
    from django.db import connection
    from django.db.models import Count, Q

    from benchmarks.bench_sweep import _ensure_data
    from vrop.accounts.choices import Role
    from vrop.accounts.models import User
    from vrop.crm.models import Deal
    from vrop.discipline.worktime import ensure_calendar

    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS.append("testserver")
    existing = Deal.objects.exists()
    if not existing:
        _ensure_data(scale or 1, quick)
        ensure_calendar()
    runs = 10 if quick else 40
    print(
        f"database: {connection.vendor} {connection.settings_dict.get('NAME')}; "
        f"{'existing company, read-only' if existing else 'generated'}",
        flush=True,
    )
    with read_only():
        manager = (
            User.objects.filter(role=Role.MANAGER, is_active=True)
            .annotate(n=Count("tasks", filter=Q(tasks__done_at__isnull=True)))
            .order_by("-n", "id")
            .first()
        )
        head = User.objects.filter(role=Role.HEAD, is_active=True).order_by("id").first()
        for user, url, name in (
            (manager, "/discipline/today/", "Today"),
            (head, "/discipline/board/", "board"),
        ):
            if user is None:
                print(f"{name}: no user with that role", flush=True)
                continue
            client = logged_in_client(user)
            timings, queries, sql_ms = _measure(client, url, runs)
            print(
                f"{name} ({user}): p50 {statistics.median(timings) * 1000:.0f} ms, "
                f"p95 {_p95(timings) * 1000:.0f} ms over {runs} requests; "
                f"{queries} queries, {sql_ms:.0f} ms of SQL in one",
                flush=True,
            )
