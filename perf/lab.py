#!/usr/bin/env python3
"""authd's load lab: start authd in a given layout, drive it with the old
service's Locust workload, and write BASELINE.md-style tables.

    python3 perf/lab.py locust --mode pg-redis --users 300 --spawn 10 --duration 60s
    python3 perf/lab.py cluster --instances 3          # serve until Ctrl-C
    python3 perf/lab.py phases --users 300 --duration 60s   # every phase, one run

Modes (each a row of perf/README.md's phase table):
  embedded       SQLite file, in-process cache (the zero-configuration default)
  pg-nocache     PostgreSQL, every request reads the database, hashing unbounded
  pg-redis-unbounded  + Redis client-side caching, hashing still unbounded
  pg-redis       + bounded hashing pool (authd's defaults)
  pg-redis-cc    + credential cache (AUTH_CREDENTIAL_CACHE_TTL=10m)
  cluster        3 × pg-redis-cc behind nginx, one PostgreSQL, one Redis
  floor          a do-nothing server (perf/cmd/floor): Locust's own floor

Everything runs on 127.0.0.1, is bounded in time and cleans up after itself
(private database, private redis-server, child processes).
"""

import argparse
import csv
import datetime
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERF = os.path.join(ROOT, "perf")
BIN = os.path.join(PERF, ".bin")
PG_ADMIN = os.environ.get("AUTH_PERF_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# BASELINE.md's workload: (weight, mean wait in seconds, bcrypt hashes per task).
# ProtectedUser does 4 parts /auth/me and 1 part login.
USER_KINDS = [(1, 3.5, 1.0), (2, 2.0, 1.0), (5, 1.5, 0.2)]


def log(*a):
    print("==", *a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build():
    os.makedirs(BIN, exist_ok=True)
    for name, pkg in [("authd", "./cmd/authd"), ("floor", "./perf/cmd/floor"), ("ceiling", "./perf/cmd/ceiling")]:
        subprocess.run(["go", "build", "-o", os.path.join(BIN, name), pkg], cwd=ROOT, check=True)


def wait_healthy(url, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not become healthy")


def ensure_services():
    """Starts the machine's PostgreSQL when it is down (as .ci/run does)."""
    if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode != 0:
        ver = os.listdir("/etc/postgresql")[0]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", ver, "main", "start"], check=False)
        for _ in range(30):
            if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0:
                break
            time.sleep(1)


class Lab:
    """Owns every process and resource of one run and tears them down."""

    def __init__(self):
        self.procs = []  # (name, Popen)
        self.cleanups = []
        self.tmp = tempfile.mkdtemp(prefix="authd-lab-")
        self.authd_pids = []
        self.authd_urls = []  # for /metrics

    def close(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in reversed(self.procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        for f in reversed(self.cleanups):
            try:
                f()
            except Exception as e:  # cleanup must go on
                log("cleanup:", e)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def spawn(self, name, argv, env=None, logname=None):
        out = open(os.path.join(self.tmp, (logname or name) + ".log"), "w")
        p = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.tmp)
        self.procs.append((name, p))
        return p

    def postgres_db(self):
        ensure_services()
        name = "perf_" + secrets.token_hex(4)
        subprocess.run(["psql", PG_ADMIN, "-qc", f"CREATE DATABASE {name}"], check=True, stdout=subprocess.DEVNULL)
        self.cleanups.append(lambda: subprocess.run(
            ["psql", PG_ADMIN, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], stdout=subprocess.DEVNULL))
        return PG_ADMIN.replace("/postgres?", f"/{name}?")

    def redis(self):
        port = free_port()
        self.spawn("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", self.tmp])
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return f"redis://127.0.0.1:{port}/0"
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def authd(self, env, port=None):
        port = port or free_port()
        full = dict(os.environ)
        full.update({
            "AUTH_HTTP_ADDR": f"127.0.0.1:{port}", "AUTH_LOG_LEVEL": "warn",
            # Both limits run as shipped, so their cost is measured: every
            # /auth/ request is counted against the per-address limit, set
            # out of reach because every simulated user is 127.0.0.1, and
            # every login against the failed-login limit (the default 10;
            # the workload's logins use the right password, so each one is
            # counted and taken back).
            "AUTH_IP_RATE_PER_MINUTE": "1000000000",
        })
        full.update(env)
        p = self.spawn("authd", [os.path.join(BIN, "authd")], env=full, logname=f"authd-{port}")
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, p)
        self.authd_pids.append(p.pid)
        self.authd_urls.append(url)
        return url

    def nginx(self, upstreams):
        port = free_port()
        with open(os.path.join(PERF, "cluster", "nginx.conf.tmpl")) as f:
            conf = f.read()
        conf = (conf.replace("__DIR__", self.tmp).replace("__LISTEN__", f"127.0.0.1:{port}")
                .replace("__UPSTREAMS__", "\n".join(f"        server {u.split('//')[1]};" for u in upstreams)))
        path = os.path.join(self.tmp, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.spawn("nginx", ["nginx", "-c", path, "-p", self.tmp, "-g", "daemon off;"])
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, None)
        return url

    def start(self, mode, instances=3):
        """Starts authd in mode and returns (url, description)."""
        secret = secrets.token_hex(32)
        if mode == "floor":
            port = free_port()
            p = self.spawn("floor", [os.path.join(BIN, "floor"), "-addr", f"127.0.0.1:{port}"])
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, p)
            self.authd_pids.append(p.pid)
            return url, "do-nothing server (perf/cmd/floor)"
        if mode == "embedded":
            return self.authd({"AUTH_DATABASE_URL": "sqlite://" + os.path.join(self.tmp, "authd.db"),
                               "AUTH_JWT_SECRET": secret}), "SQLite file, in-process cache"
        env = {"AUTH_DATABASE_URL": self.postgres_db(), "AUTH_JWT_SECRET": secret}
        unbounded = {"AUTH_HASH_WORKERS": "256", "AUTH_HASH_MAX_WAIT": "1h"}
        if mode == "pg-nocache":
            env.update({"AUTH_CACHE_TTL": "0s", **unbounded})
            return self.authd(env), "PostgreSQL, no cache, hashing unbounded"
        env["AUTH_REDIS_URL"] = self.redis()
        if mode == "pg-redis-unbounded":
            env.update(unbounded)
            return self.authd(env), "PostgreSQL + Redis client-side cache, hashing unbounded"
        if mode == "pg-redis":
            return self.authd(env), "PostgreSQL + Redis client-side cache + bounded hashing"
        env["AUTH_CREDENTIAL_CACHE_TTL"] = "10m"
        if mode == "pg-redis-cc":
            return self.authd(env), "PostgreSQL + Redis + bounded hashing + credential cache"
        if mode == "cluster":
            env["AUTH_TRUSTED_PROXIES"] = "127.0.0.1/32"
            # Two cores for everything: each instance gets its own hashing
            # pool, so together they must not ask for more than the machine.
            env["AUTH_HASH_WORKERS"] = "1"
            urls = [self.authd(env)]
            env["AUTH_MIGRATE_ON_START"] = "false"
            urls += [self.authd(env) for _ in range(instances - 1)]
            return self.nginx(urls), f"{instances} × authd (credential cache on) behind nginx"
        raise SystemExit(f"unknown mode {mode}")


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except OSError:
        return None


def machine_busy_seconds():
    """CPU time the whole machine has spent busy (every process and the
    kernel), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = v
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def peak_rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None


HASH_METRICS = {"authd_hash_wait_seconds_count": "started", "authd_hash_queued": "queued",
                "authd_hash_rejected_total": "rejected"}


def hash_metrics(urls):
    """The hashing pool's counters summed over the instances: hashes started
    (every admitted request records its wait once), requests queued now, and
    requests refused. None when an instance does not answer (the floor)."""
    total = dict.fromkeys(HASH_METRICS.values(), 0.0)
    for url in urls:
        try:
            with urllib.request.urlopen(url + "/metrics", timeout=2) as r:
                for line in r.read().decode().splitlines():
                    name, _, value = line.partition(" ")
                    if name in HASH_METRICS:
                        total[HASH_METRICS[name]] += float(value)
        except OSError:
            return None
    return total


def measure_ceiling(seconds=10):
    """The machine's bcrypt ceiling now, every core hashing and nothing else
    running (perf/cmd/ceiling, as perf:ceiling measures it): hashes/s."""
    out = subprocess.run([os.path.join(BIN, "ceiling"), "-cost", "10", "-d", f"{seconds}s",
                          "-workers", str(os.cpu_count())], capture_output=True, text=True, check=True).stdout
    hps = json.loads(out)["hashes_per_second"]
    log(f"bcrypt ceiling now: {hps:.1f} hashes/s")
    return hps


def hashing_rates(samples):
    """Hashes/s over the whole run, and over the seconds in which demand
    exceeded what authd could hash (requests were queued or refused), which
    is where "hashing at the ceiling" can be judged: the ramp-up, while the
    users offer fewer hashes than the ceiling, is left out."""
    hs = [s for s in samples if s[3] is not None]
    if len(hs) < 2:
        return None
    whole = (hs[-1][3]["started"] - hs[0][3]["started"]) / (hs[-1][0] - hs[0][0])
    started, secs, locust, others = 0.0, 0.0, 0.0, 0.0
    for prev, cur in zip(hs, hs[1:]):
        busy = cur[3]["queued"] > 0 or cur[3]["rejected"] > prev[3]["rejected"]
        if busy:
            dt = cur[0] - prev[0]
            started += cur[3]["started"] - prev[3]["started"]
            secs += dt
            locust += cur[2] * dt
            # Everything that is neither authd nor Locust: PostgreSQL,
            # Redis, nginx, the kernel's network work, anything else running.
            others += max(cur[4] - cur[1] - cur[2], 0) * dt
    if not secs:
        return {"whole": whole, "saturated": None}
    return {"whole": whole, "saturated": started / secs, "saturated_secs": secs,
            "locust_cores_saturated": locust / secs, "other_cores_saturated": others / secs}


def parse_duration(s):
    units = {"s": 1, "m": 60, "h": 3600}
    return int(float(s[:-1]) * units[s[-1]]) if s[-1] in units else int(s)


def offered(users):
    """Requests/s and bcrypt hashes/s the simulated users offer when
    nothing waits on the server: users ÷ their mean wait, by weight."""
    total = sum(w for w, _, _ in USER_KINDS)
    rps = sum(users * w / total / wait for w, wait, _ in USER_KINDS)
    hashes = sum(users * w / total / wait * h for w, wait, h in USER_KINDS)
    return rps, hashes


def run_locust(lab, url, users, spawn, duration, outdir, label, client="requests"):
    os.makedirs(outdir, exist_ok=True)
    prefix = os.path.join(outdir, label)
    argv = ["locust", "-f", os.path.join(PERF, "locustfile.py"), "--headless", "-u", str(users),
            "-r", str(spawn), "-t", duration, "-H", url, "--csv", prefix, "--html", prefix + ".html",
            "--only-summary", "--stop-timeout", "5"]
    log(f"locust {label}: {users} users, spawn {spawn}/s, {duration} against {url}")
    env = dict(os.environ, LOCUST_CLIENT=client)
    loc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=open(prefix + ".locust.log", "w"))
    pids = list(lab.authd_pids)
    urls = list(lab.authd_urls)
    start_cpu = {p: cpu_seconds(p) or 0 for p in pids}
    start = time.time()
    # (t, authd cores, locust cores, hashing metrics or None, whole machine's busy cores)
    samples = []
    last = (start, sum(start_cpu.values()), 0.0, machine_busy_seconds())
    limit = parse_duration(duration) + 60
    while loc.poll() is None:
        time.sleep(1)
        now = time.time()
        a = sum(cpu_seconds(p) or 0 for p in pids)
        lc = cpu_seconds(loc.pid) or last[2]
        m = machine_busy_seconds()
        dt = now - last[0]
        samples.append((now - start, (a - last[1]) / dt, (lc - last[2]) / dt, hash_metrics(urls), (m - last[3]) / dt))
        last = (now, a, lc, m)
        if now - start > limit:
            loc.kill()
            raise RuntimeError("locust overran its duration")
    elapsed = time.time() - start
    authd_cpu = sum((cpu_seconds(p) or 0) - start_cpu[p] for p in pids)
    rss = sum(peak_rss_mib(p) or 0 for p in pids)
    return {
        "prefix": prefix, "elapsed": elapsed, "authd_cores_avg": authd_cpu / elapsed,
        "authd_cores_max": max((s[1] for s in samples), default=0),
        "locust_cores_avg": (sum(s[2] for s in samples) / len(samples)) if samples else 0,
        "locust_cores_max": max((s[2] for s in samples), default=0),
        "authd_peak_rss_mib": rss, "samples": samples, "hashing": hashing_rates(samples),
        "steady": steady_rate(prefix, users),
    }


def read_stats(prefix):
    rows = {}
    with open(prefix + "_stats.csv") as f:
        for r in csv.DictReader(f):
            rows[r["Name"]] = r
    failures = []
    if os.path.exists(prefix + "_failures.csv"):
        with open(prefix + "_failures.csv") as f:
            failures = list(csv.DictReader(f))
    return rows, failures


def steady_rate(prefix, users):
    """Requests/s from the second every user was running to the end, read
    from Locust's per-second history, and how many seconds that was; None
    if the run never had them all. Spawning at 10/s takes 30 s of a 60 s
    run at 300 users, so the whole run's rate is not what the users offer
    when they are all there."""
    try:
        with open(prefix + "_stats_history.csv") as f:
            rows = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated"]
    except OSError:
        return None
    full = [r for r in rows if int(r["User Count"] or 0) >= users]
    if len(full) < 2:
        return None
    t0, t1 = int(full[0]["Timestamp"]), int(full[-1]["Timestamp"])
    n = int(full[-1]["Total Request Count"]) - int(full[0]["Total Request Count"])
    return (n / (t1 - t0), t1 - t0) if t1 > t0 else None


def fmt_steady(st, rps_offered):
    """"171.2 RPS (99% of what the users offer, 111 s)", or "–"."""
    return f"{st[0]:.1f} RPS ({100 * st[0] / rps_offered:.0f}% of what the users offer, {st[1]} s)" if st else "–"


def fmt_ms(v):
    v = float(v)
    return f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.0f} ms"


def summary_table(rows):
    out = ["| endpoint | requests | throughput | avg | p50 | p95 | p99 | failures |",
           "|---|---|---|---|---|---|---|---|"]
    for name in ["/auth/register", "/auth/login", "/auth/me", "Aggregated"]:
        r = rows.get(name)
        if not r:
            continue
        n, fails = int(r["Request Count"]), int(r["Failure Count"])
        out.append(f"| {'total' if name == 'Aggregated' else '`' + name + '`'} | {n} | {float(r['Requests/s']):.1f} RPS | "
                   f"{fmt_ms(r['Average Response Time'])} | {fmt_ms(r['50%'])} | {fmt_ms(r['95%'])} | "
                   f"{fmt_ms(r['99%'])} | {100 * fails / max(n, 1):.2f}% |")
    return "\n".join(out)


def report(res, rows, failures, users, spawn, duration, mode, desc, ceiling=None):
    rps_offered, hashes_offered = offered(users)
    agg = rows.get("Aggregated", {})
    got = float(agg.get("Requests/s", 0))
    lines = [f"### {mode}: {desc}", "",
             f"{users} users, spawn {spawn}/s, {duration}. Offered by the simulated users: "
             f"{rps_offered:.0f} requests/s, {hashes_offered:.0f} bcrypt hashes/s.", "",
             summary_table(rows), "",
             f"- throughput: {got:.1f} RPS = {100 * got / rps_offered:.0f}% of what the users offer",
             f"- with all {users} users running: {fmt_steady(res['steady'], rps_offered)}" if res["steady"]
             else f"- all {users} users were never running at once",
             f"- authd CPU: {res['authd_cores_avg']:.2f} cores on average, {res['authd_cores_max']:.2f} at peak; "
             f"peak resident memory {res['authd_peak_rss_mib']:.0f} MiB",
             f"- Locust CPU: {res['locust_cores_avg']:.2f} cores on average, {res['locust_cores_max']:.2f} at peak"]
    h = res.get("hashing")
    if h and ceiling:
        line = (f"- hashing: {h['whole']:.1f} hashes/s over the whole run = {100 * h['whole'] / ceiling:.0f}% "
                f"of the bcrypt ceiling measured just before it ({ceiling:.1f}/s, every core, nothing else running)")
        if h["saturated"]:
            cores = os.cpu_count()
            left = cores - h["locust_cores_saturated"] - h["other_cores_saturated"]
            scaled = ceiling * left / cores
            line += (f"; **{h['saturated']:.1f}/s = {100 * h['saturated'] / ceiling:.0f}% while demand exceeded it** "
                     f"({h['saturated_secs']:.0f} s with requests queued or refused). Meanwhile Locust used "
                     f"{h['locust_cores_saturated']:.2f} cores and everything else that is not authd (PostgreSQL, "
                     f"Redis, the kernel's network work) {h['other_cores_saturated']:.2f}, leaving authd "
                     f"{left:.2f} of the {cores} cores: the ceiling scaled to them is {scaled:.1f}/s, and authd "
                     f"hashed at **{100 * h['saturated'] / scaled:.0f}% of it**")
        lines.append(line)
    if res["locust_cores_max"] > 0.9:
        lines.append("- **Locust reached a full core at some point: the load generator, not authd, may be the "
                     "bottleneck of this run.**")
    if failures:
        lines.append("- failures: " + "; ".join(f"{f['Method']} {f['Name']}: {f['Error']} × {f['Occurrences']}"
                                                  for f in failures))
    return "\n".join(lines)


def cmd_locust(args):
    build()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    outdir = os.path.join(PERF, "results", "locust", f"{stamp}-{args.mode}-{args.users}u")
    lab = Lab()
    try:
        url, desc = lab.start(args.mode)
        ceiling = measure_ceiling() if args.mode != "floor" else None
        res = run_locust(lab, url, args.users, args.spawn, args.duration, outdir, args.mode, args.client)
        rows, failures = read_stats(res["prefix"])
        text = report(res, rows, failures, args.users, args.spawn, args.duration, args.mode, desc, ceiling)
    finally:
        lab.close()
    with open(os.path.join(outdir, "summary.md"), "w") as f:
        f.write(header(args) + text + "\n")
    print(text)


def header(args):
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return (f"<!-- {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}, authd {commit}, "
            f"{os.cpu_count()} × {cpu} -->\n"
            f"Command: `python3 perf/lab.py {' '.join(sys.argv[1:])}`\n\n")


def cmd_cluster(args):
    build()
    lab = Lab()
    try:
        url, desc = lab.start("cluster", args.instances)
        print(f"{desc}: {url}  (Ctrl-C to stop)", flush=True)
        deadline = time.time() + parse_duration(args.duration)
        while time.time() < deadline:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        lab.close()


PHASES = ["floor", "embedded", "pg-nocache", "pg-redis-unbounded", "pg-redis", "pg-redis-cc", "cluster"]


def cmd_phases(args):
    """Every phase under one workload, one after the other in one session,
    into one table in BASELINE.md's columns."""
    build()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    outdir = os.path.join(PERF, "results", "locust", f"{stamp}-phases-{args.users}u")
    modes = args.modes.split(",") if args.modes else PHASES
    rps_offered, _ = offered(args.users)
    table = ["| phase | configuration | users | throughput | all users running | avg | p95 | `/auth/me` p95 | failures | authd CPU | authd peak RSS | Locust CPU (peak) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    details = []
    for mode in modes:
        lab = Lab()
        try:
            url, desc = lab.start(mode)
            ceiling = measure_ceiling() if mode != "floor" else None
            res = run_locust(lab, url, args.users, args.spawn, args.duration, outdir, mode, args.client)
        finally:
            lab.close()
        rows, failures = read_stats(res["prefix"])
        agg, me = rows.get("Aggregated", {}), rows.get("/auth/me", {})
        n = int(agg.get("Request Count", 0))
        table.append(f"| {mode} | {desc} | {args.users} | {float(agg.get('Requests/s', 0)):.1f} RPS | "
                     f"{fmt_steady(res['steady'], rps_offered)} | "
                     f"{fmt_ms(agg.get('Average Response Time', 0))} | {fmt_ms(agg.get('95%', 0))} | "
                     f"{fmt_ms(me.get('95%', 0))} | {100 * int(agg.get('Failure Count', 0)) / max(n, 1):.2f}% | "
                     f"{res['authd_cores_avg']:.2f} cores | {res['authd_peak_rss_mib']:.0f} MiB | "
                     f"{res['locust_cores_avg']:.2f} ({res['locust_cores_max']:.2f}) |")
        details.append(report(res, rows, failures, args.users, args.spawn, args.duration, mode, desc, ceiling))
    rps, hashes = offered(args.users)
    text = (header(args) + f"{args.users} users, spawn {args.spawn}/s, {args.duration} each; the users offer "
            f"{rps:.0f} requests/s and {hashes:.0f} bcrypt hashes/s.\n\n" + "\n".join(table) + "\n\n" +
            "\n\n".join(details) + "\n")
    with open(os.path.join(outdir, "summary.md"), "w") as f:
        f.write(text)
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    lo = sub.add_parser("locust", help="one Locust run against one layout")
    lo.add_argument("--mode", default="pg-redis-cc")
    lo.add_argument("--users", type=int, default=300)
    lo.add_argument("--spawn", type=int, default=10)
    lo.add_argument("--duration", default="60s")
    lo.add_argument("--client", choices=["requests", "fast"], default="requests",
                    help="Locust's HTTP client: requests (the old service's, the default) or fast (geventhttpclient, less CPU)")
    lo.set_defaults(func=cmd_locust)
    cl = sub.add_parser("cluster", help="serve a cluster behind nginx until Ctrl-C or --duration")
    cl.add_argument("--instances", type=int, default=3)
    cl.add_argument("--duration", default="1h")
    cl.set_defaults(func=cmd_cluster)
    ph = sub.add_parser("phases", help="every phase under one workload, one table")
    ph.add_argument("--users", type=int, default=300)
    ph.add_argument("--spawn", type=int, default=10)
    ph.add_argument("--duration", default="60s")
    ph.add_argument("--client", choices=["requests", "fast"], default="requests",
                    help="Locust's HTTP client: requests (the old service's, the default) or fast (geventhttpclient, less CPU)")
    ph.add_argument("--modes", default="", help="comma-separated subset of " + ",".join(PHASES))
    ph.set_defaults(func=cmd_phases)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
