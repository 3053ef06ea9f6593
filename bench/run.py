"""``make bench``: the till under load, as in production, against a one-route ceiling.

1. A fresh database: PostgreSQL when ``BENCH_DATABASE_URL`` is set (its ``public`` schema is
   dropped and recreated: give it a database of its own), else a SQLite file in a temporary
   folder. Migrated, then seeded (``bench/seed.py``): the demo shop, ``BENCH_MEMBERS`` members
   with cards (default 2,000) and ``BENCH_COUPONS`` anonymous coupon codes (default 50,000);
   on PostgreSQL then ``VACUUM ANALYZE`` and a checkpoint, so that autovacuum does not take
   CPU from the first call measured.
2. The app served exactly as the ``Procfile``'s ``web:`` line says (gunicorn, its worker model
   and count), bound to 127.0.0.1; and the same command serving ``bench/ceiling.py``, a
   one-route Flask app, as the ceiling of what this machine and these settings can do; and
   ``bench/reference.py``, the stack's reference (Flask and SQLAlchemy Core doing one
   conditional ``UPDATE`` and one ``INSERT``, no hooks), on the same database; on PostgreSQL
   also ``bench/floor.py``, the scan's own work without any framework (a lower bound of what
   leaving the framework could reach).
3. ``wrk`` with the Lua scripts in ``bench/lua`` at ``BENCH_CONNECTIONS`` (32) connections and
   ``BENCH_THREADS`` (2) threads for ``BENCH_SECONDS`` (10) each: scan, purchase, coupon
   redemption, ``GET /api/v1/me/card``, the reference and the floor, with the ceiling before
   each and after the last.
   Each call's share of the ceiling is taken against the two ceiling runs around it: the
   machine is shared and its speed drifts, so the ratios are what to compare.
4. One table (requests/s, p50, p99, errors, share of the ceiling, and that share over the
   reference's); where the machine has
   ``/proc``, a second one with the CPU time each request cost the app's workers, PostgreSQL,
   Redis and the whole machine (the wrk client and the kernel included); then the checks: no
   coupon redeemed twice, and ``flask ledger verify`` passes. Exit status 1 if a check fails.
5. What each call costs inside the app, in numbers that do not swing with the machine's load:
   SQL statements and Python function calls per request (``bench/statements.py``).

``BENCH_APP_DIR`` points at another checkout to measure it with the same harness (the before
measurement in ``docs/performance.md``); ``BENCH_REDIS_URL`` gives the app a Redis.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import reference  # bench/reference.py: this script's folder is first on the import path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# (the row's name, its wrk script, the server it loads: "app", "reference" or "floor")
# The till's calls run first, as in earlier rounds: the rows the reference and the floor write
# cannot set off autovacuum during a till call's run.
SCENARIOS = (
    ("POST /till/scan (LW1)", "scan.lua", "app"),
    ("POST /till/purchases", "purchase.lua", "app"),
    ("POST /till/coupons/redeem", "redeem.lua", "app"),
    ("GET /me/card", "me_card.lua", "app"),
    ("reference: Flask + Core, UPDATE + INSERT", "reference.lua", "reference"),
    ("floor: the scan's own work, no framework", "scan.lua", "floor"),
)
# The gunicorn app names whose processes count as "the app's workers" in the CPU table.
SERVED_APPS = (b"app:create_app()", b"reference:create_app()", b"floor:create_app_floor()")


def env_int(name: str, default: int) -> int:
    """Return an integer setting from the environment."""
    return int(os.environ.get(name) or default)


def fresh_database(work: Path) -> str:
    """Return the URL of an empty database for this run."""
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        return f"sqlite:///{work / 'bench.db'}"
    import psycopg

    with psycopg.connect(
        url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    ) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return url


def settle(database_url: str) -> None:
    """Let PostgreSQL catch up with the seeding before anything is measured.

    Seeding writes tens of thousands of rows; left alone, autovacuum analyses those tables
    during the first call's run and takes CPU from it. ``VACUUM ANALYZE`` and a checkpoint do
    that work now, so every call starts from the same state.
    """
    if "postgresql" not in database_url:
        return
    import psycopg

    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        try:
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            pass  # a role without the right: the vacuum is the larger part


def web_command(app_dir: Path, port: int) -> list[str]:
    """Return the Procfile's web command for ``app_dir``, bound to 127.0.0.1:port."""
    line = next(
        line for line in (app_dir / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    command = line.removeprefix("web:").strip()
    command = command.replace("${PORT:-8000}", str(port)).replace("0.0.0.0", "127.0.0.1")
    # ${NAME:-default}, as the shell would expand it (WEB_CONCURRENCY, GUNICORN_THREADS, ...)
    command = re.sub(
        r"\$\{(\w+):-([^}]*)\}", lambda match: os.environ.get(match[1]) or match[2], command
    )
    words = shlex.split(command)
    words[0] = str(Path(sys.executable).parent / words[0])
    return words


def require_free_port(port: int) -> None:
    """Stop with a clear message if something already listens on ``port``.

    A server left over from an earlier run would answer instead of the one this run starts.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise SystemExit(
                f"port {port} is in use: stop what serves it or set BENCH_PORT"
            ) from None


def start(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start a server in its own process group, its output into ``log``."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until_up(url: str, seconds: float = 60, accept_status: int = 200) -> None:
    """Wait until ``url`` answers (with ``accept_status``: a GET of a POST route says 405)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except urllib.error.HTTPError as error:
            if error.code == accept_status:
                return
            time.sleep(0.3)
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"server at {url} did not come up")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server we started (its whole process group)."""
    try:
        os.killpg(process.pid, 15)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, 9)


def cpu_seconds() -> dict[str, float]:
    """Return the CPU time (user + system) used so far, per process and by the whole machine.

    Processes of the app's workers, PostgreSQL and Redis are keyed ``group:pid``; the whole
    machine is ``machine``. Read from ``/proc``; empty where there is none.
    """
    if not Path("/proc/stat").exists():
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        group = (
            "app"  # the till's workers, or the reference's or the floor's while their row runs
            if any(served in command for served in SERVED_APPS)
            else "postgres"
            if name.startswith("postgres")
            else "redis"
            if name.startswith("redis")
            else None
        )
        if group is not None:
            used[f"{group}:{pid}"] = (int(fields[11]) + int(fields[12])) / tick
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    used["machine"] = (sum(ticks) - ticks[3] - ticks[4]) / tick  # all but idle and iowait
    return used


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Return the CPU seconds each group used between two readings.

    Processes that ended in between are not counted; those that started are, from zero.
    """
    used = {"app": 0.0, "postgres": 0.0, "redis": 0.0, "machine": 0.0}
    for key, seconds in after.items():
        used[key.split(":")[0]] += seconds - before.get(key, 0.0)
    return used


def wrk(script: str, url: str, env: dict[str, str], seconds: int) -> dict[str, float]:
    """Run wrk with a Lua script; return what the script's done() printed."""
    threads = env["BENCH_THREADS"]
    connections = os.environ.get("BENCH_CONNECTIONS") or "32"
    result = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(HERE / "lua" / script),
            url,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = [line for line in result.stdout.splitlines() if line.startswith("{")][-1]
    return json.loads(line)


def checks(app_env: dict[str, str], app_dir: Path) -> list[tuple[str, bool, str]]:
    """Return the after-load checks: no double redemption, the ledger verifies."""
    flask = str(Path(sys.executable).parent / "flask")
    query = (
        "import sys\n"
        "from sqlalchemy import text\n"
        "from app import create_app\n"
        "from app.extensions import db\n"
        "with create_app().app_context():\n"
        "    twice = db.session.execute(text("
        "'SELECT count(*) FROM (SELECT coupon_id FROM coupon_redemptions WHERE reversed_at IS NULL"
        " GROUP BY coupon_id HAVING count(*) > 1) AS t')).scalar()\n"
        "    redeemed = db.session.execute(text('SELECT count(*) FROM coupon_redemptions'))"
        ".scalar()\n"
        "    print(twice, redeemed)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", query],
        cwd=app_dir,
        env=app_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    twice, redeemed = (int(x) for x in out[-2:])
    verify = subprocess.run(
        [flask, "ledger", "verify"], cwd=app_dir, env=app_env, capture_output=True, text=True
    )
    return [
        (
            "no coupon redeemed twice",
            twice == 0,
            f"{redeemed} redemptions, {twice} coupons with more than one standing",
        ),
        (
            "flask ledger verify",
            verify.returncode == 0,
            (verify.stdout + verify.stderr).strip()[-200:],
        ),
    ]


def main() -> int:
    """Run the benchmark and print the table; return 1 if a check failed."""
    app_dir = Path(os.environ.get("BENCH_APP_DIR") or REPO).resolve()
    seconds = env_int("BENCH_SECONDS", 10)
    port = env_int("BENCH_PORT", 8950)
    require_free_port(port)
    require_free_port(port + 1)
    require_free_port(port + 2)
    require_free_port(port + 3)
    work = Path(tempfile.mkdtemp(prefix="lw-bench-"))
    database_url = fresh_database(work)
    app_env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LW_INSTANCE_PATH": str(work / "instance"),
        "PYTHONPATH": str(app_dir),
        "FLASK_APP": "app",
        "LW_LOGIN_RATE_LIMIT": "100000 per minute",
    }
    app_env.pop("REDIS_URL", None)
    if os.environ.get("BENCH_REDIS_URL"):
        app_env["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    flask = str(Path(sys.executable).parent / "flask")
    subprocess.run(
        [flask, "db", "upgrade"], cwd=app_dir, env=app_env, check=True, capture_output=True
    )
    seeded = subprocess.run(
        [
            sys.executable,
            str(HERE / "seed.py"),
            str(work / "data"),
            str(env_int("BENCH_MEMBERS", 2000)),
            str(env_int("BENCH_COUPONS", 50_000)),
        ],
        cwd=app_dir,
        env=app_env,
        capture_output=True,
        text=True,
    )
    if seeded.returncode != 0:
        raise SystemExit(f"seeding failed:\n{seeded.stderr[-3000:]}")
    print(seeded.stdout.strip(), f"({'PostgreSQL' if 'postgresql' in database_url else 'SQLite'})")
    reference.prepare(database_url, env_int("BENCH_MEMBERS", 2000))
    settle(database_url)
    command = web_command(app_dir, port)
    ceiling_command = [
        word.replace("app:create_app()", "ceiling:create_app()").replace(
            f"127.0.0.1:{port}", f"127.0.0.1:{port + 1}"
        )
        for word in web_command(app_dir, port)
    ]
    ceiling_command[1:1] = ["--chdir", str(HERE)]
    reference_command = [
        word.replace("ceiling:create_app()", "reference:create_app()").replace(
            f"127.0.0.1:{port + 1}", f"127.0.0.1:{port + 2}"
        )
        for word in ceiling_command
    ]
    print("serving:", " ".join(command[1:]))
    app_server = start(command, app_env, app_dir, work / "app.log")
    ceiling_server = start(
        ceiling_command, {**os.environ, "PYTHONPATH": str(HERE)}, HERE, work / "ceiling.log"
    )
    # The floor runs the app's own functions: only for this checkout, and only on PostgreSQL.
    floor_runs = app_dir == REPO and "postgresql" in database_url
    floor_command = [
        word.replace("ceiling:create_app()", "floor:create_app_floor()").replace(
            f"127.0.0.1:{port + 1}", f"127.0.0.1:{port + 3}"
        )
        for word in ceiling_command
    ]
    floor_server = (
        start(
            floor_command,
            {**app_env, "PYTHONPATH": f"{REPO}{os.pathsep}{HERE}"},
            HERE,
            work / "floor.log",
        )
        if floor_runs
        else None
    )
    reference_server = start(
        reference_command,
        {**os.environ, "PYTHONPATH": str(HERE), "DATABASE_URL": database_url},
        HERE,
        work / "reference.log",
    )
    results: dict[str, dict[str, float]] = {}
    try:
        wait_until_up(f"http://127.0.0.1:{port}/.well-known/jwks.json")
        wait_until_up(f"http://127.0.0.1:{port + 1}/")
        wait_until_up(f"http://127.0.0.1:{port + 2}/use", accept_status=405)
        if floor_server is not None:
            wait_until_up(f"http://127.0.0.1:{port + 3}/", accept_status=404)
        wrk_env = {
            **os.environ,
            "BENCH_DATA": str(work / "data"),
            "BENCH_LUA": str(HERE / "lua"),
            "BENCH_THREADS": os.environ.get("BENCH_THREADS") or "2",
            "BENCH_RUN": f"r{int(time.time())}",
        }
        base = f"http://127.0.0.1:{port}"
        servers = {
            "app": base,
            "reference": f"http://127.0.0.1:{port + 2}",
            "floor": f"http://127.0.0.1:{port + 3}",
        }
        wrk("scan.lua", base, {**wrk_env, "BENCH_RUN": "warm"}, 2)  # warm up the workers
        ceiling_url = f"http://127.0.0.1:{port + 1}/"
        # The ceiling runs before every call and after the last: each call is compared with
        # the two ceiling runs around it, so a machine whose speed drifts during the run (a
        # shared virtual machine) moves both sides of each ratio alike.
        ceilings = [wrk("ceiling.lua", ceiling_url, wrk_env, seconds)]
        for name, script, server in SCENARIOS:
            if server == "floor" and floor_server is None:
                continue
            before = cpu_seconds()
            results[name] = wrk(script, servers[server], wrk_env, seconds)
            used = cpu_used(before, cpu_seconds())
            requests = max(results[name]["requests"], 1)
            if before:
                for part, cpu in used.items():
                    results[name][f"cpu_ms_{part}"] = 1000 * cpu / requests
            ceilings.append(wrk("ceiling.lua", ceiling_url, wrk_env, seconds))
            results[name]["ceiling_rps"] = (ceilings[-2]["rps"] + ceilings[-1]["rps"]) / 2
    finally:
        stop(app_server)
        stop(ceiling_server)
        stop(reference_server)
        if floor_server is not None:
            stop(floor_server)
    ceiling = sum(run["rps"] for run in ceilings) / len(ceilings)
    low, high = min(run["rps"] for run in ceilings), max(run["rps"] for run in ceilings)
    print()
    # Each call's share of the ceiling over the reference's: what the till reaches of what the
    # same stack does with two bare statements (see docs/performance.md).
    reference_share = next(
        (r["rps"] / r["ceiling_rps"] for n, r in results.items() if n.startswith("reference")),
        None,
    )
    print("| call | requests/s | p50 | p99 | errors | share of the ceiling | of the reference |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| ceiling (one-route Flask app; {low:,.0f} to {high:,.0f}) | {ceiling:,.0f} | "
        f"{ceilings[0]['p50_ms']:.1f} ms | {ceilings[0]['p99_ms']:.1f} ms | "
        f"{sum(run['errors'] for run in ceilings):.0f} | 1.000 | |"
    )
    for name, result in results.items():
        share = result["rps"] / result["ceiling_rps"]
        of_reference = f"{share / reference_share:.2f}" if reference_share else ""
        print(
            f"| `{name}` | {result['rps']:,.0f} | {result['p50_ms']:.1f} ms | "
            f"{result['p99_ms']:.1f} ms | {result['errors']:.0f} | {share:.3f} | {of_reference} |"
        )
    if any("cpu_ms_machine" in result for result in results.values()):
        print()
        print("CPU time per request (user + system), while each call was under load:")
        print()
        print("| call | the app's workers | PostgreSQL | Redis | the whole machine |")
        print("|---|---:|---:|---:|---:|")
        for name, result in results.items():
            print(
                f"| `{name}` | {result['cpu_ms_app']:.2f} ms | {result['cpu_ms_postgres']:.2f} ms"
                f" | {result['cpu_ms_redis']:.2f} ms | {result['cpu_ms_machine']:.2f} ms |"
            )
    print()
    failed = False
    for name, ok, detail in checks(app_env, app_dir):
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
        failed |= not ok
    print()
    counted = subprocess.run(
        [sys.executable, str(HERE / "statements.py"), str(work / "data")],
        cwd=app_dir,
        env=app_env,
        capture_output=True,
        text=True,
    )
    print("In the app, per request (bench/statements.py):")
    print(counted.stdout.strip() if counted.returncode == 0 else counted.stderr.strip()[-500:])
    out = os.environ.get("BENCH_JSON")
    if out:
        Path(out).write_text(json.dumps({"ceiling": ceiling, "results": results}, indent=2))
    if os.environ.get("BENCH_KEEP"):
        print("kept:", work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
