"""Import speed of the exchange format on the configured database.

Generates an exchange folder of about N rows over all files (default 200,000; ``--scale
S`` multiplies it; ``--quick`` 3,000), imports it (everything new), imports it again
(everything unchanged), and prints rows/s and the peak RSS. A smaller folder is imported
first, so that the peak RSS of the two sizes shows whether memory grows with the files.

    vrop bench import            # SQLite in VROP_DATA_DIR, or DATABASE_URL
"""

from __future__ import annotations

import csv
import os
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

from django.core.management import call_command
from django.db import connection

W10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)


def _inn(prefix9: str) -> str:
    return prefix9 + str(sum(int(d) * w for d, w in zip(prefix9, W10, strict=True)) % 11 % 10)


def _writer(folder: Path, name: str, header: list[str]):
    handle = open(folder / name, "w", encoding="utf-8", newline="")
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(header)
    return handle, writer


def generate(folder: Path, rows: int, run: str, seed: int = 1) -> int:
    """An exchange folder of about ``rows`` rows; returns the exact count of data rows."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    deals = max(rows // 5, 10)
    clients = max(deals // 10, 5)
    products = 200
    managers = 50
    total = 0
    files = {}

    def open_file(name, header):
        files[name] = _writer(folder, name, header)
        return files[name][1]

    w = open_file("managers.csv", ["id", "name", "email", "role", "team", "hired_on", "left_on"])
    for i in range(managers):
        w.writerow([f"{run}-m{i}", f"Менеджер {i} Тестов", f"{run}-m{i}@bench.example",
                    "head" if i == 0 else "manager", f"Отдел {i % 3}", "2024-01-15", ""])  # fmt: skip
        total += 1
    w = open_file(
        "clients.csv",
        ["id", "name", "inn", "segment", "manager_id", "payment_terms_days", "credit_limit"],
    )
    for i in range(clients):
        w.writerow([f"{run}-c{i}", f"ООО «Клиент {i}»", _inn(f"{770000000 + i:09d}"),
                    rng.choice(["construction", "manufacturing", "retail"]),
                    f"{run}-m{rng.randrange(1, managers)}", rng.choice([0, 0, 14, 30]),
                    f"{rng.randrange(0, 50) * 10000}.00"])  # fmt: skip
        total += 1
    w = open_file("products.csv", ["id", "name", "category", "unit", "cost_price", "list_price"])
    prices = []
    for i in range(products):
        cost = rng.randrange(40000, 90000)
        prices.append((cost, int(cost * 1.12)))
        w.writerow([f"{run}-p{i}", f"Арматура А500С №{i}", "rebar", "t", f"{cost}.00",
                    f"{prices[-1][1]}.00"])  # fmt: skip
        total += 1
    wd = open_file(
        "deals.csv",
        ["id", "client_id", "manager_id", "channel", "received_at", "stage", "lost_reason",
         "amount"],
    )  # fmt: skip
    wl = open_file(
        "deal_lines.csv", ["deal_id", "product_id", "qty", "price", "cost_price", "list_price"]
    )
    ws = open_file("stage_changes.csv", ["deal_id", "stage", "changed_at"])
    wt = open_file("tasks.csv", ["id", "deal_id", "manager_id", "title", "due_at", "done_at"])
    wi = open_file("invoices.csv", ["id", "deal_id", "number", "issued_on", "due_on", "amount"])
    wp = open_file("payments.csv", ["id", "invoice_id", "paid_on", "amount"])
    wsh = open_file("shipments.csv", ["id", "deal_id", "shipped_on", "amount", "cost"])
    for i in range(deals):
        deal = f"{run}-d{i}"
        day = 1 + i % 28
        month = 1 + (i // 28) % 12
        received = f"2026-{month:02d}-{day:02d}T{9 + i % 9:02d}:{i % 60:02d}:00+03:00"
        stage = rng.choice(["lead", "contact", "quote", "won", "won", "lost"])
        amount = 0
        cost_total = 0
        for _line in range(rng.choice([1, 2])):
            p = rng.randrange(products)
            qty = rng.randrange(1, 40) / 2
            cost, price = prices[p]
            wl.writerow([deal, f"{run}-p{p}", f"{qty:.3f}", f"{price}.00", f"{cost}.00",
                         f"{price}.00"])  # fmt: skip
            amount += qty * price
            cost_total += qty * cost
            total += 1
        wd.writerow([deal, f"{run}-c{rng.randrange(clients)}", f"{run}-m{rng.randrange(1, managers)}",
                     "phone", received, stage, "Дорого" if stage == "lost" else "",
                     f"{amount:.2f}"])  # fmt: skip
        ws.writerow([deal, "lead", received])
        total += 2
        if stage != "lead":
            ws.writerow([deal, stage, f"2026-{month:02d}-{day:02d}T18:00:00+03:00"])
            total += 1
        if stage in ("lead", "contact", "quote"):
            wt.writerow([f"{run}-t{i}", deal, "", "Перезвонить",
                         f"2026-{month:02d}-{min(day + 2, 28):02d}T11:00:00+03:00", ""])  # fmt: skip
            total += 1
        if stage == "won":
            issued = f"2026-{month:02d}-{day:02d}"
            wi.writerow([f"{run}-i{i}", deal, f"СЧ-{i}", issued, "", f"{amount:.2f}"])
            wp.writerow([f"{run}-pay{i}", f"{run}-i{i}", issued, f"{amount:.2f}"])
            wsh.writerow([f"{run}-s{i}", deal, issued, f"{amount:.2f}", f"{cost_total:.2f}"])
            total += 3
    for handle, _w in files.values():
        handle.close()
    return total


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> tuple[float, float | None]:
    """CPU seconds used so far by this process (all its threads) and by its database
    server process (PostgreSQL on this machine; None otherwise): on a shared machine
    they say more than the wall time about what an import costs."""
    times = os.times()
    own = times.user + times.system
    if connection.vendor != "postgresql":
        return own, None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return own, None
    return own, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(rows: int, run: str, workdir: Path) -> dict:
    from vrop.integrations.exchange.importer import import_path

    folder = workdir / run
    started = time.monotonic()
    count = generate(folder, rows, run)
    generated = time.monotonic() - started
    size_mib = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
    cpu_before = _cpu_seconds()
    started = time.monotonic()
    report = import_path(folder)
    first = time.monotonic() - started
    cpu_after = _cpu_seconds()
    if not report.ok:
        raise RuntimeError(report.render()[:2000])
    rss_after_first = _peak_rss_mib()
    started = time.monotonic()
    again = import_path(folder)
    second = time.monotonic() - started
    assert again.ok and sum(c.created + c.updated for c in again.counts.values()) == 0
    shutil.rmtree(folder)
    return {
        "rows": count,
        "size_mib": size_mib,
        "generate_s": generated,
        "import_s": first,
        "import_rows_s": count / first,
        "reimport_s": second,
        "reimport_rows_s": count / second,
        "peak_rss_mib": rss_after_first,
        "import_cpu_s": cpu_after[0] - cpu_before[0],
        "import_server_cpu_s": (
            cpu_after[1] - cpu_before[1] if None not in (cpu_after[1], cpu_before[1]) else None
        ),
        "load": os.getloadavg(),
    }


def run(scale: int | None = None, quick: bool = False) -> None:
    call_command("migrate", interactive=False, verbosity=0)
    rows = 3_000 if quick else 200_000 * (scale or 1)
    print(f"database: {connection.vendor}", flush=True)
    run_id = f"b{int(time.time())}"
    workdir = Path(tempfile.mkdtemp(prefix="vrop-bench-import-"))
    try:
        for size, label in ((rows // 4, "small"), (rows, "full")):
            result = _measure(size, f"{run_id}{label[0]}", workdir)
            print(
                f"{label}: {result['rows']} rows ({result['size_mib']:.1f} MiB of CSV): "
                f"import {result['import_s']:.1f} s = {result['import_rows_s']:,.0f} rows/s; "
                f"re-import (unchanged) {result['reimport_s']:.1f} s = "
                f"{result['reimport_rows_s']:,.0f} rows/s; "
                f"peak RSS {result['peak_rss_mib']:.0f} MiB; import CPU: "
                f"Python {result['import_cpu_s']:.1f} s, server "
                + (
                    f"{result['import_server_cpu_s']:.1f} s"
                    if result["import_server_cpu_s"] is not None
                    else "n/a"
                )
                + "; load average {:.1f} {:.1f} {:.1f}".format(*result["load"]),
                flush=True,
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
