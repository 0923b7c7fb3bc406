"""`make bench`: serve the app with gunicorn on 127.0.0.1, drive it with wrk over loopback
for a bounded time, and print requests/s and p50/p95 latency of the pages people open every
day, each as a ratio to a trivial route measured in the same run (the floor).

    python scripts/bench.py [--db sqlite|postgresql|both] [--duration 10] [--teams 100 ...]

The scale data set (`flask seed scale`) is generated once per backend and reused while its
parameters are unchanged. Results go to stdout and docs/benchmarks.md.
"""

import argparse
import itertools
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"
BENCH = ROOT / "bench"
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")
WRK_THREADS = 2
UPDATE_TEAMS = 16  # the updates' 16 clients work in as many teams' audits (and in one)
WRITERS = 4  # clients saving other teams' items while a team's pages are measured
LUA_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("P50 %d\\nP95 %d\\nP99 %d\\n", latency:percentile(50),
    latency:percentile(95), latency:percentile(99)))
  local e = summary.errors
  io.write(string.format("ERRORS %d\\nREQUESTS %d\\n",
    e.connect + e.read + e.write + e.status + e.timeout, summary.requests))
end
"""
LUA_UPDATE = """
-- People working through their items: PATCH an item's status with the version it was last
-- seen at, each request as the lead of the item's team. The items come interleaved across
-- the audits; each wrk thread takes its own share and walks it round by round, so no two
-- requests in flight touch the same item and every version sent is the current one. Each
-- request sends the status the item does not have (in progress <-> blocked), so every
-- request writes, run after run (a status the item already has would be a no-op save).
-- A 409 would mean a lost race: counted apart.
local audits = {%(audits)s}
local ids = {%(ids)s}
local known = {%(versions)s}
local known_status = {%(statuses)s}
local tokens = {%(tokens)s}
local shares = %(threads)d
local threads = {}
function setup(thread)
  thread:set("share", #threads)
  table.insert(threads, thread)
end
function init(args)
  conflicts = 0; versions = {}; current = {}; sent = {}; mine = {}; next_item = 0
  for i, id in ipairs(ids) do
    versions[id] = known[i]
    current[id] = known_status[i]
    if i %% shares == share then table.insert(mine, i) end
  end
end
request = function()
  next_item = next_item + 1
  local i = mine[(next_item - 1) %% #mine + 1]
  local id = ids[i]
  sent[id] = current[id] == "in_progress" and "blocked" or "in_progress"
  local body = string.format('{"status": "%%s", "version": %%d}', sent[id], versions[id])
  return wrk.format("PATCH", "/api/v1/audits/" .. audits[i] .. "/items/" .. id,
    {["Authorization"] = "Bearer " .. tokens[i], ["Content-Type"] = "application/json"},
    body)
end
response = function(status, headers, body)
  -- the item's own id (keys come sorted; evidence has ids of its own)
  local id = tonumber(string.match(body, '"evidence_required":%%a+,"id":(%%d+)'))
  local v = tonumber(string.match(body, '"version":%%s*(%%d+)'))
  if id and v then versions[id] = v end
  if id and status == 200 then current[id] = sent[id] end
  if status == 409 then conflicts = conflicts + 1 end
end
done = function(summary, latency, requests)
  local c = 0
  for _, t in ipairs(threads) do c = c + t:get("conflicts") end
  io.write(string.format("P50 %%d\\nP95 %%d\\nP99 %%d\\n", latency:percentile(50),
    latency:percentile(95), latency:percentile(99)))
  local e = summary.errors
  io.write(string.format("ERRORS %%d\\nREQUESTS %%d\\nCONFLICTS %%d\\n",
    e.connect + e.read + e.write + e.status + e.timeout - c, summary.requests, c))
end
"""


def run(cmd, env, **kw):
    return subprocess.run(cmd, env=env, cwd=ROOT, check=True, text=True, capture_output=True,
                          **kw)


def flask(env, *args):
    return run([str(VENV / "flask"), "--app", "app", *args], env).stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(backend: str, args) -> dict:
    """An instance with the scale data set, reused when its parameters match."""
    instance = BENCH / f"instance-{backend}"
    instance.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "INSTANCE_PATH": str(instance), "SECRET_KEY": "bench-secret",
           "EVIDENCE_DIR": str(instance / "evidence"), "FLASK_DEBUG": "0"}
    env.pop("REDIS_URL", None) if not args.redis else None
    if backend == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{instance / 'bench.db'}"
    else:
        env["DATABASE_URL"] = f"{PG_SERVER}/rt_bench"
    params = {"teams": args.teams, "quarters": args.quarters, "items": args.items}
    marker = instance / "seeded.json"
    if args.fresh or not marker.exists() or json.loads(marker.read_text()) != params:
        print(f"[{backend}] generating the scale data set {params} …", flush=True)
        if backend == "sqlite":
            for f in instance.glob("bench.db*"):
                f.unlink()
        else:
            import sqlalchemy as sa

            admin = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(sa.text("DROP DATABASE IF EXISTS rt_bench WITH (FORCE)"))
                c.execute(sa.text("CREATE DATABASE rt_bench"))
            admin.dispose()
        flask(env, "db", "upgrade")
        flask(env, "seed", "library")
        started = time.perf_counter()
        print(flask(env, "seed", "scale", "--teams", str(args.teams), "--quarters",
                    str(args.quarters), "--items", str(args.items)).strip().splitlines()[-2])
        print(f"[{backend}] seeded in {time.perf_counter() - started:.0f} s", flush=True)
        marker.write_text(json.dumps(params))
    else:
        flask(env, "db", "upgrade")  # a data set made by an earlier version of the schema
    # Every run starts from the tables as autovacuum would keep them: earlier runs' saves
    # leave dead rows, and a server with autovacuum off (as on some shared machines) never
    # clears them or refreshes the planner's statistics (seed scale does after a load).
    run([str(VENV / "python"), "-c", "from tracker import create_app\n"
         "from tracker.scale.service import refresh_statistics\n"
         "with create_app().app_context(): refresh_statistics()"], env)
    return env


def facts(env) -> dict:
    """Ids to benchmark with: the first scale team, its latest audit and its items; and for
    the first UPDATE_TEAMS teams, a new API token of the lead and the team's latest audit."""
    code = """
import json, sqlalchemy as sa
from tracker import create_app
from tracker.extensions import db
from tracker.audits.models import Audit, AuditItem
from tracker.auth.models import Team, User
from tracker.auth.service import create_token
app = create_app()
with app.app_context():
    leads = []
    for n in range(1, UPDATE_TEAMS + 1):
        team = db.session.execute(sa.select(Team).where(Team.name == f"Scale team {n:03}")
            ).scalar_one()
        audit = db.session.execute(sa.select(Audit).where(Audit.team_id == team.id)
            .order_by(Audit.period.desc()).limit(1)).scalar_one()
        lead = db.session.execute(sa.select(User).where(
            User.email == f"scale{n:03}.0@example.com")).scalar_one()
        leads.append({"team_id": team.id, "audit_id": audit.id,
                      "token": create_token(lead, "bench")[1]})
    db.session.commit()
    items = db.session.execute(sa.select(AuditItem.id).where(
        AuditItem.audit_id == leads[0]["audit_id"]).order_by(AuditItem.id)).scalars().all()
    count = db.session.execute(sa.select(sa.func.count(AuditItem.id))).scalar()
    print(json.dumps({"team_id": leads[0]["team_id"], "audit_id": leads[0]["audit_id"],
                      "token": leads[0]["token"], "leads": leads, "items": items,
                      "count": count}))
""".replace("UPDATE_TEAMS", str(UPDATE_TEAMS))
    return json.loads(run([str(VENV / "python"), "-c", code], env).stdout.strip().splitlines()[-1])


def sign_in(base: str, email: str, password: str) -> str:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": password})
    opener.open(f"{base}/login", data.encode())
    cookies = {c.name: c.value for c in jar}
    if "session" not in cookies:
        raise SystemExit(f"could not sign in as {email}")
    return f"session={cookies['session']}"


def wrk(url: str, *, duration: int, connections: int, headers=(), script: str = LUA_REPORT):
    script_path = _script_file(script)
    cmd = ["wrk", "-t", str(WRK_THREADS), "-c", str(connections), "-d", f"{duration}s",
           "-s", script_path, "--timeout", "30s"]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    os.unlink(script_path)
    value = lambda key: float(re.search(rf"^{key} (\d+)", out, re.M).group(1))  # noqa: E731
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    conflicts = re.search(r"^CONFLICTS (\d+)", out, re.M)
    return {"rps": rps, "p50": value("P50") / 1000, "p95": value("P95") / 1000,
            "errors": int(value("ERRORS")), "requests": int(value("REQUESTS")),
            "conflicts": int(conflicts.group(1)) if conflicts else 0}


def serve(env, workers: int):
    port = free_port()
    proc = subprocess.Popen(
        [str(VENV / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "app:app"], env=env, cwd=ROOT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)
            return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def bench_backend(backend: str, args) -> list[dict]:
    env = prepare(backend, args)
    f = facts(env)
    token = f["token"]
    rows = bench_pages(env, f, token, args, cache=True)
    if not args.no_cold and not args.updates_only:
        # The same pages rendered on every request: what a page costs when a write has just
        # moved its version on (the first view after any change).
        rows += bench_pages({**env, "PAGE_CACHE": "0"}, f, token, args, cache=False)
    report = None if args.no_report or args.updates_only else bench_report(env, f)
    if report:
        rows.append(report)
    for row in rows:
        row["backend"], row["items_total"] = backend, f["count"]
    return rows


def bench_pages(env, f, token, args, *, cache: bool) -> list[dict]:
    """Each route as a ratio to the floor measured in the same round: a round runs the
    floor and then every route once, and a route's ratio is the median over the rounds of
    its p50 over that round's floor (on a shared machine the speed drifts between rounds,
    not within one)."""
    proc, base = serve(env, args.workers)
    suffix = "" if cache else " — cache off"
    try:
        lead = sign_in(base, "scale001.0@example.com", "scale-password")
        operator = sign_in(base, "scale001.1@example.com", "scale-password")
        audit_page = f"audit page ({len(f['items'])} items)"
        pages = [
            ("organisation overview", "/dashboard", [f"Cookie: {lead}"]),
            ("team page", f"/teams/{f['team_id']}", [f"Cookie: {lead}"]),
            (audit_page, f"/audits/{f['audit_id']}",
             [f"Cookie: {lead}"]),
            ("My items", "/audits/my-items", [f"Cookie: {operator}"]),
            ("API GET /audits/{id}", f"/api/v1/audits/{f['audit_id']}",
             [f"Authorization: Bearer {token}"]),
        ]
        pages = [page for page in pages if _answers(base, *page)]
        floor = ("trivial route (floor)", "/healthz", [])
        rows = [] if args.updates_only else _rounds(args, floor, [
            (name + suffix, lambda path=path, headers=headers: wrk(
                base + path, duration=args.duration, connections=args.connections,
                headers=headers))
            for name, path, headers in pages], connections=args.connections,
            base=base, show_floor=cache)
        if cache:
            # Updates run with 16 clients; under a closed loop, latency grows with the number
            # of clients, so their floor is the trivial route at 16 clients too.
            rows += _rounds(args, ("trivial route, 16 clients (floor of updates)",
                                   "/healthz", []), [
                (name, lambda leads=leads: wrk(base, duration=args.duration, connections=16,
                                               script=update_script(base, leads)))
                for name, leads in ((f"status update (PATCH, 16 clients, {UPDATE_TEAMS} "
                                     "teams)", f["leads"]),
                                    ("status update (PATCH, 16 clients, one audit)",
                                     f["leads"][:1]))], connections=16, base=base,
                show_floor=True)
        if cache and not args.updates_only:
            # A busy organisation: someone is always saving. A team's pages depend on its
            # own audits (and people, library, signals), so other teams' saves leave them
            # in the cache; these rows measure that, with the savers' CPU on the machine.
            # Rounds of their own, last: the saves' aftermath (PostgreSQL's autovacuum,
            # checkpoints) must not land in the budgeted rows' rounds.
            rows += _rounds(args, floor, [
                (f"{name} while {UPDATE_TEAMS - 1} other teams save",
                 lambda path=path, headers=headers: _while_others_save(
                     base, f, path, headers, args))
                for name, path, headers in pages if name in ("team page", audit_page)],
                connections=args.connections, base=base, show_floor=False)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    return rows


def _while_others_save(base: str, f: dict, path: str, headers: list[str], args) -> dict:
    """`path` measured while WRITERS clients save items of the other teams' audits."""
    script_path = _script_file(update_script(base, f["leads"][1:]))
    writers = subprocess.Popen(  # runs past the measurement, stopped when it is done
        ["wrk", "-t", "1", "-c", str(WRITERS), "-d", f"{args.duration + 5}s", "-s",
         script_path, base], stdout=subprocess.DEVNULL)
    try:
        time.sleep(1)
        return wrk(base + path, duration=args.duration, connections=args.connections,
                   headers=headers)
    finally:
        writers.terminate()
        writers.wait()
        os.unlink(script_path)


def _script_file(script: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    return fh.name


def _answers(base: str, name: str, path: str, headers: list[str]) -> bool:
    probe = urllib.request.Request(base + path, headers=dict(h.split(": ", 1) for h in headers))
    try:
        status = urllib.request.urlopen(probe, timeout=60).status
    except urllib.error.HTTPError as exc:
        status = exc.code
    if status != 200:
        print(f"{name}: {path} answered {status}; skipped")
    return status == 200


def _rounds(args, floor, routes, *, connections: int, base: str, show_floor: bool):
    floor_name, floor_path, _ = floor
    samples = {name: [] for name in [floor_name, *(name for name, _ in routes)]}
    for _ in range(args.repeat):
        samples[floor_name].append(wrk(base + floor_path, duration=args.duration,
                                       connections=connections))
        for name, measure in routes:
            samples[name].append(measure())
    rows = [{**_median(floor_name, samples[floor_name]), "ratio": 1.0,
             "connections": connections}] if show_floor else []
    for name, _ in routes:
        ratios = [s["p50"] / fl["p50"]
                  for s, fl in zip(samples[name], samples[floor_name], strict=True)]
        rows.append({**_median(name, samples[name]), "ratio": statistics.median(ratios),
                     "connections": connections})
    for row in rows:
        print(row, flush=True)
    return rows


def update_script(base: str, leads: list[dict]) -> str:
    """The update script over the latest audit of each lead's team, with the items' current
    versions (the run before moved them on), interleaved across the audits."""
    per_audit = []
    for lead in leads:
        request = urllib.request.Request(f"{base}/api/v1/audits/{lead['audit_id']}",
                                         headers={"Authorization": f"Bearer {lead['token']}"})
        items = json.load(urllib.request.urlopen(request, timeout=60))["items"]
        per_audit.append([(lead["audit_id"], i["id"], i["version"], lead["token"],
                           i["status"]) for i in items])
    entries = [e for round_ in itertools.zip_longest(*per_audit) for e in round_ if e]
    column = lambda n, quote="": ",".join(f"{quote}{e[n]}{quote}" for e in entries)  # noqa: E731
    return LUA_UPDATE % {"audits": column(0), "ids": column(1), "versions": column(2),
                         "tokens": column(3, '"'), "statuses": column(4, '"'),
                         "threads": WRK_THREADS}


def _median(name, samples):
    return {"name": name, "rps": statistics.median(s["rps"] for s in samples),
            "p50": statistics.median(s["p50"] for s in samples),
            "p95": statistics.median(s["p95"] for s in samples),
            "errors": sum(s["errors"] for s in samples),
            "conflicts": sum(s["conflicts"] for s in samples)}


def bench_report(env, f) -> dict | None:
    """Render and sign a 1,000-item report in-process (not over HTTP)."""
    script = ROOT / "scripts" / "bench_reports.py"
    if not script.exists():
        return None
    try:
        out = run([str(VENV / "python"), str(script), "--child", "1000"], env).stdout
    except subprocess.CalledProcessError as exc:
        print("report benchmark failed:", exc.stderr[-500:])
        return None
    result = json.loads(out.strip().splitlines()[-1])
    return {"name": "render + sign a 1,000-item report (in-process, once)", "rps": None,
            "p50": result["total_s"] * 1000, "p95": None, "errors": 0}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    mem = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    return (f"{os.cpu_count()} cores ({cpu}), {mem / 1024 / 1024:.0f} GiB, Python "
            f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"{platform.system()} {platform.release()}")


def table(rows) -> str:
    out = ["| backend | what | req/s | p50 ms | p95 ms | p50 ÷ floor (median of rounds) "
           "| errors |",
           "|---|---|---:|---:|---:|---:|---:|"]
    floors = {(r["backend"], r["connections"]): r["p50"] for r in rows
              if r["name"].startswith("trivial")}
    default = {r["backend"]: r["p50"] for r in rows if r["name"] == "trivial route (floor)"}
    for r in rows:
        floor = floors.get((r["backend"], r.get("connections")), default.get(r["backend"]))
        if "ratio" not in r and floor:  # the report: one render, against the pages' floor
            r["ratio"] = r["p50"] / floor
        ratio = f"{r['ratio']:.1f}×" if r.get("ratio") else "—"
        rps = f"{r['rps']:.0f}" if r["rps"] is not None else "—"
        p95 = f"{r['p95']:.1f}" if r["p95"] is not None else "—"
        errors = f"{r['errors']}" + (f" (+{r['conflicts']} 409)" if r.get("conflicts") else "")
        out.append(f"| {r['backend']} | {r['name']} | {rps} | {r['p50']:.1f} | {p95} | "
                   f"{ratio} | {errors} |")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--teams", type=int, default=100)
    parser.add_argument("--quarters", type=int, default=8)
    parser.add_argument("--items", type=int, default=250)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--repeat", type=int, default=3, help="wrk runs per route (median)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--fresh", action="store_true", help="regenerate the data set")
    parser.add_argument("--redis", action="store_true", help="keep REDIS_URL (RQ workers)")
    parser.add_argument("--no-report", action="store_true", help="skip the report render")
    parser.add_argument("--no-cold", action="store_true",
                        help="skip the pass with the page cache off")
    parser.add_argument("--updates-only", action="store_true",
                        help="only the status updates and their floor (implies --dry-run)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the table only; leave docs/benchmarks.md as it is")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: sudo apt-get install wrk")
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    rows = []
    for backend in backends:
        rows += bench_backend(backend, args)
    text = table(rows)
    print("\n" + text)
    if args.dry_run or args.updates_only:
        return
    docs = ROOT / "docs" / "benchmarks.md"
    docs.parent.mkdir(exist_ok=True)
    existing = docs.read_text() if docs.exists() else "# Benchmarks\n"
    section = (f"\n## `make bench` — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
               f"Machine: {machine()}.\nData: {args.teams} teams × {args.quarters} quarters × "
               f"{args.items} items ({rows[0]['items_total']:,} audit items); gunicorn "
               f"{args.workers} workers; wrk {args.connections} connections (16 for updates), "
               f"{args.duration} s × {args.repeat} rounds (a round: the floor, then each route "
               f"once); medians, and each ratio the median of the rounds' ratios.\n\n"
               f"{text}\n")
    marker = "<!-- make bench -->"
    head = existing.split(marker)[0].rstrip() + "\n\n" + marker + "\n"
    docs.write_text(head + section)
    print(f"\nWritten to {docs.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
