"""The ``vrop`` command: what an operator does, in one place.

vrop demo [--no-serve] [--scale N] [--seed S] [--host H] [--port P]
vrop serve [--host H] [--port P]      web app + the embedded task worker
vrop worker                           task workers alone (production, any number)
vrop import DIR|ZIP / vrop export DIR the exchange format
vrop bench [NAME ...]                 benchmarks under ./benchmarks
vrop report --period month --format pdf|xlsx   a periodic report
vrop manage ...                       Django's management commands
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vrop.settings")
    import django

    django.setup()


def _manage(*argv: str) -> None:
    from django.core.management import execute_from_command_line

    _setup_django()
    execute_from_command_line(["vrop manage", *argv])


def _migrate(verbose: bool = False) -> None:
    from django.core.management import call_command

    _setup_django()
    call_command("migrate", interactive=False, verbosity=1 if verbose else 0)


def _start_worker_process() -> subprocess.Popen:
    """The embedded task worker: a child process running the same queue consumer."""
    return subprocess.Popen([sys.executable, "-m", "vrop.cli", "worker"], env=os.environ.copy())


def serve(host: str, port: int, *, with_worker: bool = True) -> int:
    _migrate()
    from django.conf import settings
    from waitress import serve as waitress_serve

    from vrop.wsgi import application

    worker = _start_worker_process() if with_worker else None
    print(f"Serving on http://{host}:{port}/  (data: {settings.DATA_DIR})", flush=True)

    def stop(signum, frame):  # SIGTERM (systemd, kill): leave through ``finally``
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        waitress_serve(application, host=host, port=port, threads=8, ident="vrop", _quiet=True)
    except KeyboardInterrupt:
        pass
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
    return 0


def worker(workers: int | None = None) -> int:
    _setup_django()
    from django.core.management import call_command

    options = {}
    if workers:
        options["workers"] = workers
    call_command("run_huey", **options)
    return 0


def demo(args) -> int:
    started = time.monotonic()
    _migrate()
    from vrop.demo.generator import demo_exists, generate_demo, print_logins

    if args.reset or not demo_exists():
        print("Generating the demo company…", flush=True)
        stats = generate_demo(seed=args.seed, scale=args.scale, reset=args.reset)
        print(f"Done in {time.monotonic() - started:.1f} s: {stats}", flush=True)
    print_logins()
    if args.no_serve:
        return 0
    return serve(args.host, args.port)


def do_import(args) -> int:
    _migrate()
    from vrop.integrations.exchange.importer import import_path

    report = import_path(Path(args.path), dry_run=args.dry_run)
    print(report.render())
    return 0 if report.ok else 1


def do_export(args) -> int:
    _setup_django()
    from vrop.integrations.exchange.exporter import export_path

    counts = export_path(Path(args.path))
    for name, count in counts.items():
        print(f"{name}: {count}")
    return 0


def bench(args) -> int:
    root = Path(args.dir).resolve()
    if not root.is_dir():
        print(f"No benchmarks folder at {root}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(root.parent))
    _setup_django()
    from importlib import import_module

    names = args.names or sorted(p.stem for p in root.glob("bench_*.py"))
    failed = 0
    for name in names:
        module_name = name if name.startswith("bench_") else f"bench_{name}"
        module = import_module(f"{root.name}.{module_name}")
        print(f"== {module_name}", flush=True)
        try:
            module.run(scale=args.scale, quick=args.quick)
        except Exception as error:  # a failed benchmark is reported, the others still run
            failed += 1
            print(f"FAILED: {error!r}", flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "manage":
        _manage(*argv[1:])
        return 0
    parser = argparse.ArgumentParser(prog="vrop", description="Virtual ROP")
    sub = parser.add_subparsers(dest="command", required=True)

    p_demo = sub.add_parser("demo", help="create the demo company and serve it")
    p_demo.add_argument("--no-serve", action="store_true", help="only create the demo data")
    p_demo.add_argument("--scale", type=int, default=1, help="multiply the demo's size")
    p_demo.add_argument("--seed", type=int, default=1, help="the same seed gives the same data")
    p_demo.add_argument("--reset", action="store_true", help="delete all data and generate anew")
    p_demo.add_argument("--host", default="127.0.0.1")
    p_demo.add_argument("--port", type=int, default=8000)

    p_serve = sub.add_parser("serve", help="the web app with its embedded task worker")
    p_serve.add_argument("--host", default="127.0.0.1")
    p_serve.add_argument("--port", type=int, default=8000)
    p_serve.add_argument("--no-worker", action="store_true", help="do not start the task worker")

    p_worker = sub.add_parser("worker", help="task workers alone")
    p_worker.add_argument("--workers", type=int, default=None)

    p_import = sub.add_parser("import", help="import a folder or .zip in the exchange format")
    p_import.add_argument("path")
    p_import.add_argument("--dry-run", action="store_true", help="check only, write nothing")

    p_export = sub.add_parser("export", help="export everything in the exchange format")
    p_export.add_argument("path")

    p_bench = sub.add_parser("bench", help="run the benchmarks")
    p_bench.add_argument("names", nargs="*")
    p_bench.add_argument("--dir", default="benchmarks")
    p_bench.add_argument("--scale", type=int, default=None)
    p_bench.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")

    p_report = sub.add_parser("report", help="a periodic report as PDF or XLSX")
    p_report.add_argument(
        "--period", choices=["day", "week", "month", "quarter", "year"], default="month"
    )
    p_report.add_argument("--format", dest="fmt", choices=["pdf", "xlsx"], default="pdf")
    p_report.add_argument("--date", default=None, help="the period up to this day (today)")
    p_report.add_argument("--out", default=None, help="the file to write")
    p_report.add_argument("--user", default=None, help="whose view (the owner by default)")

    sub.add_parser("manage", help="Django's management commands")

    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args)
    if args.command == "serve":
        return serve(args.host, args.port, with_worker=not args.no_worker)
    if args.command == "worker":
        return worker(args.workers)
    if args.command == "import":
        return do_import(args)
    if args.command == "export":
        return do_export(args)
    if args.command == "bench":
        return bench(args)
    if args.command == "report":
        _setup_django()
        from vrop.analytics.reports import cli_report

        return cli_report(
            period=args.period, fmt=args.fmt, day=args.date, out=args.out, user=args.user
        )
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
