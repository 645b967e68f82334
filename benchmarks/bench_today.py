"""Today page and control board: server time per page (p50, p95), through the whole
Django stack in process (middleware, session, templates), against the configured
database. Creates the demo company first when there are no deals (``--quick``: 2 000 synthetic deals).
"""

from __future__ import annotations

import statistics
import time


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(int(round(0.95 * len(ordered))) - 1, 0)]


def _measure(client, url: str, runs: int) -> list[float]:
    client.get(url)  # warm
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return timings


def run(scale=None, quick=False):
    from django.conf import settings
    from django.db.models import Count
    from django.test import Client

    from benchmarks.bench_sweep import _ensure_data
    from vrop.accounts.choices import Role
    from vrop.accounts.models import User
    from vrop.discipline.worktime import ensure_calendar

    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS.append("testserver")
    _ensure_data(scale or 1, quick)
    ensure_calendar()
    runs = 10 if quick else 40
    manager = (
        User.objects.filter(role=Role.MANAGER, is_active=True)
        .annotate(n=Count("tasks"))
        .order_by("-n")
        .first()
    )
    head = User.objects.filter(role=Role.HEAD, is_active=True).first()
    for user, url, name in (
        (manager, "/discipline/today/", "Today"),
        (head, "/discipline/board/", "board"),
    ):
        if user is None:
            print(f"{name}: no user with that role", flush=True)
            continue
        client = Client()
        client.force_login(user)
        timings = _measure(client, url, runs)
        print(
            f"{name} ({user}): p50 {statistics.median(timings) * 1000:.0f} ms, "
            f"p95 {_p95(timings) * 1000:.0f} ms over {runs} requests",
            flush=True,
        )
