"""API benchmark: the server as a user starts it, loaded with resources, hit by wrk.

    .venv/bin/python bench/api_bench.py [--resource customer|productOffering|all] [--quick]
                                        [--count N] [--duration S] [--connections C]
                                        [--workers W]

For each resource benchmarked (TMF629 customer, TMF620 productOffering; default: both, one
after the other, each on its own fresh database and server): starts an embedded SecantusDB in
a fresh temporary directory, then `python app.py serve` against it (MONGODB_URI), loads the
resources through the API (POST, then PATCH for states a create cannot reach), measures the
same database with pymongo directly (the raw ceiling), runs wrk on the resource's operations,
samples the resident memory of the uvicorn workers and prints a table; the figures also go to
bench/results/ as JSON. Needs wrk on PATH.
"""

from __future__ import annotations

import argparse
import copy
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from adapters.demo_catalog import starter_catalog  # noqa: E402
from adapters.demo_data import ADDRESSES, COUNTRIES, FIRST_NAMES, LANGUAGE, LAST_NAMES, MOBILE  # noqa: E402
from adapters.embedded_db import EmbeddedMongo, free_port  # noqa: E402
from adapters.mongo import HIDDEN, connect  # noqa: E402

DATABASE = "bss"
WRK_DIR = REPO / "bench" / "wrk"
RESULTS_DIR = REPO / "bench" / "results"
STOP_GRACE_SECONDS = 20
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
LOAD_THREADS = 4
RAW_THREADS = 8

# What the lead asked for of every resource (2-core machine, DB + server + load generator
# on one box); the req/s and p99 targets are per resource (ResourceBench).
LIST_RATIO_TARGET = 0.80
RSS_TARGET_MB = 300


Body = dict[str, Any]


@dataclass(frozen=True)
class ResourceBench:
    """What differs between the benchmarked resources; the method is the same for all."""

    key: str  # --resource value and prefix of the results file
    title: str
    plural: str  # "customers"
    base_path: str  # API base path
    collection: str  # collection path under the base, also the MongoDB collection
    state_attribute: str  # "status", "lifecycleStatus"
    # share of the loaded resources per final state; the rest end in `default_state`
    mix: Mapping[str, float]
    default_state: str
    filter_state: str  # the filtered list page: ?limit=20&<state_attribute>=<filter_state>
    body: Callable[[int, random.Random, str], Body]  # create body of resource i in a state
    post_state: str  # state of the body the POST benchmark sends
    seed: int
    operations: tuple[str, ...]  # measured with wrk, in this order
    rps_targets: Mapping[str, int]  # operation -> minimum req/s
    p99_targets_ms: Mapping[str, float] = field(default_factory=dict)
    # final states a create cannot reach: created in the first state, then merge-PATCHed
    # with the second (reason included)
    moves: Mapping[str, tuple[str, Body]] = field(default_factory=dict)
    not_patchable_states: frozenset[str] = frozenset()  # left out of the PATCH benchmark
    target_notes: Mapping[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"{self.base_path}/{self.collection}"

    @property
    def filter_query(self) -> str:
        return urllib.parse.urlencode({self.state_attribute: self.filter_state})

    @property
    def raw_filter(self) -> dict[str, Any]:
        """What the repository sends to MongoDB for the filtered page (adapters.mongo)."""
        return {self.state_attribute: self.filter_state}


# ---------------------------------------------------------------------------------------
# customers (TMF629)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", ".", ascii_text).strip(".")


def customer_body(i: int, rng: random.Random, status: str) -> dict[str, Any]:
    """A TMF629 Customer create body in the shape of the demo data, unique per `i`."""
    country = rng.choice(COUNTRIES)
    first = rng.choice(FIRST_NAMES[country].split(","))
    last = rng.choice(LAST_NAMES[country].split(","))
    is_org = i % 10 == 0
    name = (
        f"{last} {rng.choice(['Consulting', 'Logistics', 'Bakery', 'Dental'])}"
        if is_org
        else (f"{first} {last}")
    )
    prefix, digits = MOBILE[country]
    _, street, city, post_code, province = rng.choice([a for a in ADDRESSES if a[0] == country])
    address: dict[str, Any] = {
        "contactType": "postalAddress",
        "street1": street.format(n=rng.randint(1, 180)),
        "city": city,
        "postCode": post_code,
        "country": country,
    }
    if province:
        address["stateOrProvince"] = province
    year, month, day = rng.choice([2023, 2024, 2025]), rng.randint(1, 12), rng.randint(1, 28)
    score = rng.randint(480, 840)
    return {
        "@type": "Customer",
        "name": name,
        "status": status,
        "engagedParty": {
            "id": f"{'org' if is_org else 'ind'}-bench-{i:06d}",
            "name": name,
            "@referredType": "Organization" if is_org else "Individual",
        },
        "contactMedium": [
            {
                "mediumType": "email",
                "preferred": True,
                "characteristic": {
                    "contactType": "email",
                    "emailAddress": f"{_slug(name)}.{i}@example.com",
                },
            },
            {
                "mediumType": "mobile",
                "preferred": False,
                "characteristic": {
                    "contactType": "mobile",
                    "phoneNumber": prefix + "".join(str(rng.randint(0, 9)) for _ in range(digits)),
                },
            },
            {"mediumType": "postalAddress", "preferred": False, "characteristic": address},
        ],
        "characteristic": [
            {"name": "preferredLanguage", "valueType": "string", "value": LANGUAGE[country]},
            {"name": "marketingConsent", "valueType": "boolean", "value": rng.random() < 0.6},
            {
                "name": "segment",
                "valueType": "string",
                "value": "smallBusiness" if is_org else "consumer",
            },
        ],
        "creditProfile": [
            {
                "creditProfileDate": f"{year}-{month:02d}-{day:02d}T09:00:00.000Z",
                "creditRiskRating": 5 - sum(score >= cut for cut in (560, 640, 700, 760)),
                "creditScore": score,
                "validFor": {
                    "startDateTime": f"{year}-{month:02d}-{day:02d}T09:00:00.000Z",
                    "endDateTime": f"{year + 1}-{month:02d}-{day:02d}T09:00:00.000Z",
                },
            }
        ],
        "paymentMethod": [
            {
                "id": f"pm-bench-{i:06d}",
                "name": "SEPA direct debit",
                "@referredType": "PaymentMethod",
            }
        ],
        "account": [
            {
                "id": f"ba-bench-{i:06d}",
                "name": f"{name} billing",
                "@referredType": "BillingAccount",
            }
        ],
        "validFor": {"startDateTime": f"{year}-{month:02d}-{day:02d}T10:00:00.000Z"},
    }


# ---------------------------------------------------------------------------------------
# product offerings (TMF620)

# The simple offerings of the starter catalog (adapters/demo_catalog.py) are the shapes the
# loaded offerings take: specification, prices, characteristic values, terms, channels. Their
# references need not exist: only a launch checks them, and none of these is launched.
OFFERING_TEMPLATES = [o for o in starter_catalog()["productOffering"] if not o.get("isBundle")]


def offering_body(i: int, rng: random.Random, state: str) -> Body:
    """A TMF620 ProductOffering create body in the shape of the starter catalog, unique per
    `i`; the server sets id, href, version and lastUpdate."""
    template = rng.choice(OFFERING_TEMPLATES)
    body = {k: copy.deepcopy(v) for k, v in template.items() if k not in ("id", "version")}
    year, month, day = rng.choice([2025, 2026, 2027]), rng.randint(1, 12), rng.randint(1, 28)
    body |= {
        "name": f"{template['name']} v{i:05d}",
        "description": f"{template['description']} (variant {i})",
        "lifecycleStatus": state,
        "validFor": {"startDateTime": f"{year}-{month:02d}-{day:02d}T00:00:00.000Z"},
    }
    if rng.random() < 0.3:
        body["validFor"]["endDateTime"] = f"{year + 1}-{month:02d}-{day:02d}T00:00:00.000Z"
    return body


# ---------------------------------------------------------------------------------------
# the benchmarked resources

CUSTOMER = ResourceBench(
    key="customer",
    title="Customer API (TMF629)",
    plural="customers",
    base_path="/tmf-api/customerManagement/v4",
    collection="customer",
    state_attribute="status",
    # Created as Initialized / Validated / Approved (the creatable states); Suspended and
    # Closed ones are created Approved, then PATCHed.
    mix={"Initialized": 0.04, "Validated": 0.08, "Suspended": 0.03, "Closed": 0.02},
    default_state="Approved",
    filter_state="Suspended",
    body=customer_body,
    post_state="Approved",
    seed=629,
    operations=("get_by_id", "list", "list_filtered", "post", "patch"),
    rps_targets={"get_by_id": 1000, "post": 400, "patch": 300},
    p99_targets_ms={"get_by_id": 25},
    moves={
        "Suspended": (
            "Approved",
            {"status": "Suspended", "statusReason": "Unpaid bills over 60 days"},
        ),
        "Closed": (
            "Approved",
            {"status": "Closed", "statusReason": "Customer requested termination"},
        ),
    },
    not_patchable_states=frozenset({"Closed"}),
)

PRODUCT_OFFERING = ResourceBench(
    key="productOffering",
    title="Product offering API (TMF620)",
    plural="product offerings",
    base_path="/tmf-api/productCatalogManagement/v4",
    collection="productOffering",
    state_attribute="lifecycleStatus",
    # All created directly in their state (In Study, In Design, In Test and Active are
    # creatable; Launched needs launch integrity, i.e. existing Active specs and prices).
    mix={"In Design": 0.10, "In Test": 0.05, "Active": 0.03},
    default_state="In Study",
    filter_state="Active",
    body=offering_body,
    post_state="In Study",
    seed=620,
    operations=("get_by_id", "list", "list_filtered", "post"),
    rps_targets={"get_by_id": 1000, "post": 300},
    target_notes={"post": "TMF620 reference implementation: 91 req/s on this database"},
)

RESOURCES = {r.key: r for r in (CUSTOMER, PRODUCT_OFFERING)}


def final_states(spec: ResourceBench, count: int, rng: random.Random) -> list[str]:
    states = []
    for state, share in spec.mix.items():
        states += [state] * round(count * share)
    states += [spec.default_state] * (count - len(states))
    rng.shuffle(states)
    return states


class Client:
    """One keep-alive HTTP connection per thread."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._local = threading.local()

    def call(self, method: str, path: str, body: Any = None, content_type: str = "") -> Any:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type or "application/json"} if payload else {}
        for attempt in (1, 2):
            connection = getattr(self._local, "connection", None)
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=120)
                self._local.connection = connection
            try:
                connection.request(method, path, payload, headers)
                response = connection.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise
        if not 200 <= response.status < 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data), response


def load_resources(spec: ResourceBench, client: Client, count: int) -> dict[str, Any]:
    """Create `count` resources through the API; returns their ids by final state."""
    rng = random.Random(spec.seed)
    states = final_states(spec, count, rng)
    bodies = []
    for i, state in enumerate(states, 1):
        created_as = spec.moves[state][0] if state in spec.moves else state
        bodies.append(spec.body(i, rng, created_as))

    done = [0]
    lock = threading.Lock()
    step = max(count // 10, 1)

    def create(body: Body) -> str:
        created, _ = client.call("POST", spec.path, body)
        with lock:
            done[0] += 1
            if done[0] % step == 0:
                elapsed = time.monotonic() - started
                print(f"  {done[0]} created, {done[0] / elapsed:.0f}/s so far", flush=True)
        return str(created["id"])

    started = time.monotonic()
    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        ids = list(pool.map(create, bodies))
    post_seconds = time.monotonic() - started

    def transition(item: tuple[str, str]) -> None:
        resource_id, state = item
        patch = spec.moves[state][1]
        client.call("PATCH", f"{spec.path}/{resource_id}", patch, "application/merge-patch+json")

    moves = [(i, s) for i, s in zip(ids, states, strict=True) if s in spec.moves]
    started = time.monotonic()
    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        list(pool.map(transition, moves))
    patch_seconds = time.monotonic() - started
    by_state: dict[str, list[str]] = {}
    for resource_id, state in zip(ids, states, strict=True):
        by_state.setdefault(state, []).append(resource_id)
    return {
        "ids": ids,
        "by_state": by_state,
        "post_seconds": post_seconds,
        "post_per_second": count / post_seconds,
        "state_patches": len(moves),
        "patch_seconds": patch_seconds,
        "sample_body": bodies[-1],
    }


# ---------------------------------------------------------------------------------------
# processes: server, CPU and memory accounting


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), 0 once it is gone."""
    try:
        fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields_[11]) + int(fields_[12])) / CLOCK_TICK


def machine_busy_seconds() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICK


def memory_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """Max VmRSS of each watched process, sampled every quarter second."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.max_kb = dict.fromkeys(pids, 0)
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.25):
            self.sample()

    def sample(self) -> None:
        for name, pid in self.pids.items():
            self.max_kb[name] = max(self.max_kb[name], memory_kb(pid, "VmRSS"))

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.sample()


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    workers: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def start_server(
    tmp: Path,
    mongo_uri: str,
    workers: int | None,
    dispatcher: bool,
    settings: Mapping[str, str] | None = None,
) -> Server:
    """`python app.py serve` on `mongo_uri`; `settings` are more BSS_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BSS_") and k != "MONGODB_URI"}
    port = free_port()
    env.update(
        BSS_PORT=str(port),
        BSS_DATA_DIR=str(tmp),
        BSS_DEMO_DATA="false",
        BSS_LOG_LEVEL="WARNING",
        MONGODB_URI=mongo_uri,
        # capacity, not tokens: no token checks (the server listens on loopback) and no
        # per-client rate limit, which wrk's one client would hit at once
        BSS_AUTH="dev",
        BSS_RATE_LIMIT_PER_MINUTE="0",
    )
    env.update(settings or {})
    if workers is not None:
        env["BSS_WORKERS"] = str(workers)
    if not dispatcher:
        env["BSS_DISPATCHER"] = "false"
    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "python"), "app.py", "serve"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Server(port, process, log_path)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited at start:\n{log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(server.url("/ready"), timeout=2) as response:
                if response.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    else:
        raise RuntimeError(f"server not ready in 90 s:\n{log_path.read_text()[-2000:]}")
    expected = workers or 2
    deadline = time.monotonic() + 30
    while len(server.workers) < expected and time.monotonic() < deadline:
        spawned = [p for p in children(process.pid) if "spawn_main" in cmdline(p)]
        server.workers = {f"worker-{n + 1}": pid for n, pid in enumerate(sorted(spawned))}
        time.sleep(0.2)
    return server


def stop_server(server: Server) -> dict[str, Any]:
    started = time.monotonic()
    server.process.send_signal(signal.SIGINT)
    try:
        server.process.wait(STOP_GRACE_SECONDS)
        killed = False
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
        killed = True
    return {
        "stop_seconds": round(time.monotonic() - started, 2),
        "exit_code": server.process.returncode,
        "killed": killed,
    }


# ---------------------------------------------------------------------------------------
# wrk


@dataclass
class Accounting:
    """CPU seconds used by each part of the box while something runs."""

    pids: dict[str, int]
    before: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self.before = self._now()

    def stop(self) -> dict[str, float]:
        after = self._now()
        return {k: after[k] - self.before[k] for k in after}

    def _now(self) -> dict[str, float]:
        now = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        now["bench"] = sum(os.times()[:2])
        now["children"] = sum(os.times()[2:4])  # reaped children: wrk
        now["wall"] = time.monotonic()
        now["machine"] = machine_busy_seconds()
        return now


def settle(pids: dict[str, int], baseline: float, limit: float, at_least: float = 0.0) -> float:
    """When wrk stops, up to --connections requests are still in flight and the server
    completes them (a slow list page can take many seconds). Wait until the server and the
    database use no more CPU than they did idle after the load (`baseline` cores, e.g. the
    dispatcher polling) before the next measurement; give up after `limit` seconds.
    The CPU alone cannot tell when the database is already saturated while idle (a
    dispatcher backlog keeps it at one core), so also wait `at_least` seconds: the slowest
    latency of the previous run, within which the requests it left in flight end."""
    started = time.monotonic()
    time.sleep(min(at_least, limit))
    while time.monotonic() - started < limit:
        before = sum(cpu_seconds(pid) for pid in pids.values())
        time.sleep(1.0)
        if sum(cpu_seconds(pid) for pid in pids.values()) - before <= baseline + 0.15:
            break
    return round(time.monotonic() - started, 1)


def idle_cores(pids: dict[str, int], seconds: float = 3.0) -> dict[str, float]:
    """CPU used with no client at all (the event dispatcher polling, background work)."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(seconds)
    used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    workers = sum(v for k, v in used.items() if k.startswith("worker-"))
    return {"workers": round(workers / seconds, 2), "db": round(used["db"] / seconds, 2)}


def cpu_split(used: dict[str, float], operations: int) -> dict[str, Any]:
    workers = sum(v for k, v in used.items() if k.startswith("worker-"))
    ours = workers + used["server"] + used["db"] + used["bench"] + used["children"]
    per_op = 1000 / max(operations, 1)
    return {
        "api_ms_per_op": round(workers * per_op, 3),
        "db_ms_per_op": round(used["db"] * per_op, 3),
        "client_ms_per_op": round((used["children"] + used["bench"]) * per_op, 3),
        "api_cores": round(workers / used["wall"], 2),
        "db_cores": round(used["db"] / used["wall"], 2),
        "client_cores": round((used["children"] + used["bench"]) / used["wall"], 2),
        "other_cores": round(max(used["machine"] - ours, 0.0) / used["wall"], 2),
    }


def run_wrk(
    server: Server,
    script: str,
    path: str,
    seconds: float,
    args: argparse.Namespace,
    env: dict[str, str],
    accounting: Accounting | None = None,
) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{max(round(seconds), 1)}s",
        "--timeout",
        "60s",
        "-s",
        str(WRK_DIR / script),
        server.url(path),
    ]
    wrk_env = {
        **os.environ,
        **env,
        "BENCH_WRK_DIR": str(WRK_DIR),
        "BENCH_THREADS": str(args.threads),
    }
    if accounting:
        accounting.start()
    done = subprocess.run(command, env=wrk_env, capture_output=True, text=True, check=False)
    used = accounting.stop() if accounting else None
    figures: dict[str, Any] = {}
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            figures = {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
        elif line.startswith("BENCH_SAMPLE "):
            figures["sample_bad_response"] = line.removeprefix("BENCH_SAMPLE ")
    if done.returncode != 0 or "requests" not in figures:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    requests = int(figures["requests"])
    result = {
        "command": " ".join(command),
        "requests": requests,
        "rps": requests / (figures["duration_us"] / 1e6),
        "p50_ms": figures["p50_us"] / 1000,
        "p90_ms": figures["p90_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "p999_ms": figures["p999_us"] / 1000,
        "max_ms": figures["max_us"] / 1000,
        "mean_ms": figures["mean_us"] / 1000,
        "non2xx": int(figures["non2xx"]),
        "socket_errors": {
            k.removeprefix("errors_"): int(v)
            for k, v in figures.items()
            if k.startswith("errors_") and k != "errors_status"
        },
        "bytes_per_response": round(figures["bytes"] / max(requests, 1)),
    }
    if "sample_bad_response" in figures:
        result["sample_bad_response"] = figures["sample_bad_response"]
    if used:
        result["cpu"] = cpu_split(used, requests)
    return result


# ---------------------------------------------------------------------------------------
# raw ceiling: pymongo straight to the same database


def raw_rate(
    operation: Callable[[random.Random], None], seconds: float, accounting: Accounting
) -> dict[str, Any]:
    counts = [0] * RAW_THREADS
    errors: list[str] = []
    start = threading.Barrier(RAW_THREADS + 1)
    deadline = 0.0

    def loop(n: int) -> None:
        rng = random.Random(n)
        start.wait()
        while time.monotonic() < deadline:
            try:
                operation(rng)
            except Exception as error:  # noqa: BLE001 - counted and reported, never hidden
                errors.append(repr(error))
                return
            counts[n] += 1

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(RAW_THREADS)]
    for thread in threads:
        thread.start()
    accounting.start()
    deadline = time.monotonic() + seconds
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    used = accounting.stop()
    if errors:
        raise RuntimeError(f"raw operation failed: {errors[0]}")
    total = sum(counts)
    return {"ops": total, "ops_per_second": total / elapsed, "cpu": cpu_split(used, total)}


def raw_reads(
    spec: ResourceBench, uri: str, ids: list[str], seconds: float, accounting: Accounting
) -> dict[str, Any]:
    """The reads the repository makes for GET by id and the list pages (adapters.mongo)."""
    db = connect(uri, DATABASE)
    collection = db[spec.collection]
    by_id = [("_id", 1)]

    def find_one(rng: random.Random) -> None:
        assert collection.find_one({"id": rng.choice(ids)}, {"_id": 0}) is not None

    def page(where: dict[str, Any]) -> Callable[[random.Random], None]:
        def run(_: random.Random) -> None:
            items = list(collection.find(where, HIDDEN).sort(by_id).limit(20))
            assert len(items) == 20
            collection.count_documents(where)

        return run

    try:
        return {
            "find_one_by_id": raw_rate(find_one, seconds, accounting),
            "filtered_page": raw_rate(page(spec.raw_filter), seconds, accounting),
            "unfiltered_page": raw_rate(page({}), seconds, accounting),
        }
    finally:
        db.client.close()


def stored_counts(spec: ResourceBench, uri: str) -> dict[str, int]:
    """Resources, outbox events, and events the dispatcher has not fanned out yet."""
    db = connect(uri, DATABASE)
    try:
        counts = {name: db[name].estimated_document_count() for name in (spec.collection, "outbox")}
        counts["events_not_fanned_out"] = db["outbox"].count_documents({"fanned": False})
        return counts
    finally:
        db.client.close()


def drain(spec: ResourceBench, uri: str, seconds: float) -> dict[str, Any]:
    """Wait up to `seconds` for the dispatcher to fan out the events of the load."""
    started = time.monotonic()
    counts = stored_counts(spec, uri)
    while counts["events_not_fanned_out"] and time.monotonic() - started < seconds:
        time.sleep(2)
        counts = stored_counts(spec, uri)
    return {"waited_s": round(time.monotonic() - started, 1), **counts}


def raw_insert(
    spec: ResourceBench, uri: str, template_id: str, seconds: float, accounting: Accounting
) -> dict[str, Any]:
    """insert_one of a document shaped exactly like a stored resource, fresh id each time."""
    db = connect(uri, DATABASE)
    collection = db[spec.collection]
    template = collection.find_one({"id": template_id}, {"_id": 0})
    assert template is not None

    def insert(_: random.Random) -> None:
        collection.insert_one({**template, "id": str(uuid.uuid4())})

    try:
        return {"insert_one": raw_rate(insert, seconds, accounting)}
    finally:
        db.client.close()


# ---------------------------------------------------------------------------------------
# report


def check_targets(spec: ResourceBench, results: dict[str, Any]) -> list[tuple[str, str, bool]]:
    api, rss = results["api"], results["rss_max_mb"]
    ratios = results["api_over_raw"]
    checks = []
    for operation, minimum in spec.rps_targets.items():
        r = api[operation]
        name, value = f"{operation} >= {minimum} req/s", f"{r['rps']:.0f} req/s"
        ok = r["rps"] >= minimum
        limit = spec.p99_targets_ms.get(operation)
        if limit is not None:
            name += f", p99 <= {limit:g} ms"
            value += f", p99 {r['p99_ms']:.1f} ms"
            ok = ok and r["p99_ms"] <= limit
        if operation in spec.target_notes:
            value += f" ({spec.target_notes[operation]})"
        checks.append((name, value, ok))
    for name in ("list", "list_filtered"):
        ratio = ratios[name]
        checks.append(
            (
                f"{name} >= {LIST_RATIO_TARGET:.0%} of raw",
                f"{ratio:.0%}",
                ratio >= LIST_RATIO_TARGET,
            )
        )
    workers = {k: v for k, v in rss.items() if k.startswith("worker-")}
    worst = max(workers.values(), default=0.0)
    checks.append(
        (f"RSS <= {RSS_TARGET_MB} MB per worker", f"max {worst:.0f} MB", worst <= RSS_TARGET_MB)
    )
    errors = sum(r["non2xx"] + sum(r["socket_errors"].values()) for r in api.values())
    checks.append(("no non-2xx / socket errors", str(errors), errors == 0))
    return checks


def labels(spec: ResourceBench) -> dict[str, str]:
    name = spec.collection
    return {
        "get_by_id": f"GET /{name}/{{id}}",
        "list": f"GET /{name}?limit=20",
        "list_filtered": f"GET ?limit=20&{spec.state_attribute}={spec.filter_state}",
        "post": f"POST /{name}",
        "patch": f"PATCH /{name}/{{id}} (merge)",
    }


def raw_labels(spec: ResourceBench) -> dict[str, str]:
    where = f"{spec.state_attribute}={spec.filter_state}"
    return {
        "find_one_by_id": "find_one by id",
        "filtered_page": f"{where} page: find+sort+limit 20 + count",
        "unfiltered_page": "unfiltered page: find+sort+limit 20 + count",
        "insert_one": "insert_one (stored shape)",
    }


def rate(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def print_report(spec: ResourceBench, results: dict[str, Any]) -> None:
    run = results["run"]
    load = results["load"]
    print()
    print(
        f"{spec.title} - {run['count']} {spec.plural}, {run['workers']} uvicorn workers, "
        f"wrk -t{run['wrk_threads']} -c{run['connections']} {run['duration_s']} s each, "
        f"{run['cpus']} CPUs, event dispatcher {'on' if run['dispatcher'] else 'OFF'}"
    )
    patches = (
        f", {load['state_patches']} state PATCHes in {load['patch_seconds']:.1f} s"
        if load["state_patches"]
        else ""
    )
    print(
        f"load through the API: {run['count']} POSTs in {load['post_seconds']:.1f} s "
        f"({load['post_per_second']:.0f}/s, {LOAD_THREADS} threads){patches}; "
        f"{spec.state_attribute}: {results['state_counts']}"
    )
    print()
    header = f"{'operation':<40}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'sock err':>9}"
    header += f"{'api ms/req':>12}{'db ms/req':>11}{'other cores':>13}"
    print(header)
    print("-" * len(header))
    names = labels(spec)
    for key in spec.operations:
        r = results["api"][key]
        cpu = r["cpu"]
        print(
            f"{names[key]:<40}{rate(r['rps']):>9}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
            f"{r['non2xx']:>9}{sum(r['socket_errors'].values()):>9}{cpu['api_ms_per_op']:>12.2f}"
            f"{cpu['db_ms_per_op']:>11.2f}{cpu['other_cores']:>13.2f}"
        )
        if "sample_bad_response" in r:
            print(f"    first non-2xx: {r['sample_bad_response']}")
    print()
    header = f"{'raw pymongo, ' + str(RAW_THREADS) + ' threads':<56}{'ops/s':>9}{'db ms/op':>11}"
    header += f"{'client ms/op':>14}{'other cores':>13}"
    print(header)
    print("-" * len(header))
    for key, label in raw_labels(spec).items():
        r = results["raw"][key]
        print(
            f"{label:<56}{rate(r['ops_per_second']):>9}{r['cpu']['db_ms_per_op']:>11.2f}"
            f"{r['cpu']['client_ms_per_op']:>14.2f}{r['cpu']['other_cores']:>13.2f}"
        )
    print()
    ratios = results["api_over_raw"]
    print("API / raw: " + ", ".join(f"{name} {value:.0%}" for name, value in ratios.items()))
    idle, counts = results["idle_cpu_cores"], results["stored_at_end"]
    waits = {k: v for k, v in results["settle_waits_s"].items() if v > 1.5}
    if waits:
        print(f"waited for in-flight requests before (s): {waits}")
    print(
        f"idle CPU (cores, no client): after load {idle['after_load']}, at the end {idle['end']}; "
        f"stored: after load {results['stored_after_load']}, at the end {counts}"
    )
    rss = results["rss_max_mb"]
    hwm = results["rss_peak_hwm_mb"]
    print(
        "max RSS (sampled; kernel peak VmHWM): "
        + ", ".join(f"{name} {rss[name]:.0f} MB ({hwm[name]:.0f})" for name in rss)
    )
    print()
    for name, value, ok in results["targets"]:
        print(f"  [{'ok  ' if ok else 'MISS'}] {name:<40} {value}")


# ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--resource",
        choices=[*RESOURCES, "all"],
        default="all",
        help="what to benchmark (default all: each in turn, on its own database and server)",
    )
    parser.add_argument(
        "--count", type=int, default=None, help="resources loaded (default 10000, --quick 1000)"
    )
    parser.add_argument("--duration", type=float, default=None, help="seconds per wrk run (20)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=None, help="BSS_WORKERS (default: 2)")
    parser.add_argument("--raw-seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=None, help="seconds per op (2)")
    parser.add_argument("--quick", action="store_true", help="1,000 resources, 5 s each")
    parser.add_argument(
        "--no-dispatcher",
        action="store_true",
        help="BSS_DISPATCHER=false: no event dispatcher thread in the workers (not production)",
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=0.0,
        help="wait up to S seconds after the load for the dispatcher to fan out its events",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=60.0,
        help="at most S seconds to wait, before each run, for the previous one's requests",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = parser.parse_args(argv)
    args.count = args.count or (1000 if args.quick else 10_000)
    args.duration = args.duration or (5.0 if args.quick else 20.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found on PATH: install it (Debian/Ubuntu: apt-get install wrk)")
        return 2
    specs = list(RESOURCES.values()) if args.resource == "all" else [RESOURCES[args.resource]]
    summary = []
    for spec in specs:
        results, out = bench_resource(spec, args)
        summary.append((spec, results, out))
    if len(summary) > 1:
        print(f"\n{'=' * 30} summary {'=' * 30}")
        for spec, results, out in summary:
            print(f"\n{spec.title} ({out.relative_to(REPO)})")
            for name, value, ok in results["targets"]:
                print(f"  [{'ok  ' if ok else 'MISS'}] {name:<40} {value}")
    return 0


def wrk_plan(spec: ResourceBench, files: dict[str, Path]) -> list[tuple[str, str, str, Any]]:
    """(operation, Lua script, URL path, environment) of each operation of `spec`."""
    plan = {
        "get_by_id": ("get_by_id.lua", spec.path, {"BENCH_IDS": str(files["ids"])}),
        "list": ("list.lua", f"{spec.path}?limit=20", {}),
        "list_filtered": ("list.lua", f"{spec.path}?limit=20&{spec.filter_query}", {}),
        "post": ("post.lua", spec.path, {"BENCH_BODY": str(files["body"])}),
        "patch": ("patch.lua", spec.path, {"BENCH_IDS": str(files["patch_ids"])}),
    }
    return [(operation, *plan[operation]) for operation in spec.operations]


def bench_resource(spec: ResourceBench, args: argparse.Namespace) -> tuple[dict[str, Any], Path]:
    """The whole benchmark of one resource on a fresh database and server."""
    print(f"\n### {spec.title}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"bss-bench-{spec.key}-"))
    db = EmbeddedMongo(tmp / "db")
    server: Server | None = None
    sampler: RssSampler | None = None
    try:
        uri = db.start()
        print(f"embedded database at {uri} (data in {tmp})", flush=True)
        server = start_server(tmp, uri, args.workers, not args.no_dispatcher)
        db_pid = next(p for p in children(os.getpid()) if "secantusd" in cmdline(p))
        pids = {**server.workers, "server": server.process.pid, "db": db_pid}
        print(f"server on port {server.port}, workers {server.workers}", flush=True)
        sampler = RssSampler(pids)
        sampler.start()
        accounting = Accounting(pids)
        client = Client(server.port)

        print(f"loading {args.count} {spec.plural} through the API ...", flush=True)
        load = load_resources(spec, client, args.count)
        ids, by_state = load.pop("ids"), load.pop("by_state")
        sample_body = load.pop("sample_body")
        filtered, response = client.call("GET", f"{spec.path}?limit=20&{spec.filter_query}")
        load["filtered_total"] = int(response.getheader("X-Total-Count"))
        assert load["filtered_total"] == len(by_state[spec.filter_state]), load["filtered_total"]
        assert len(filtered) == 20
        print(
            f"  {load['post_per_second']:.0f} POST/s; "
            f"{load['filtered_total']} {spec.state_attribute}={spec.filter_state}",
            flush=True,
        )

        files = {"ids": tmp / "ids.txt", "patch_ids": tmp / "patch_ids.txt", "body": tmp / "b.json"}
        files["ids"].write_text("\n".join(ids) + "\n")
        excluded = {i for s in spec.not_patchable_states for i in by_state.get(s, [])}
        patchable = [i for i in ids if i not in excluded]
        random.Random(7).shuffle(patchable)
        files["patch_ids"].write_text("\n".join(patchable) + "\n")
        post_body = {**sample_body, spec.state_attribute: spec.post_state, "name": "Bench Created"}
        files["body"].write_text(json.dumps(post_body))

        after_load = stored_counts(spec, uri)
        print(f"  stored after the load: {after_load}", flush=True)
        drained = drain(spec, uri, args.drain) if args.drain > 0 else None
        if drained:
            print(f"  after waiting for the dispatcher: {drained}", flush=True)
        idle = {"after_load": idle_cores(pids)}
        print(f"  idle CPU (cores) after the load: {idle['after_load']}", flush=True)
        print(f"raw pymongo reads, {args.raw_seconds:.0f} s each ...", flush=True)
        raw = raw_reads(spec, uri, ids, args.raw_seconds, accounting)

        api: dict[str, Any] = {}
        patched = 0  # PATCH runs start past the ids the runs before them touched
        figures: dict[str, Any] = {}
        baseline = idle["after_load"]["workers"] + idle["after_load"]["db"]
        settled: dict[str, float] = {}
        slowest = 0.0  # seconds: the slowest request of the previous wrk run
        for name, script, path, env in wrk_plan(spec, files):
            print(f"wrk {name} ({args.duration:.0f} s) ...", flush=True)
            for measured, seconds in ((False, args.warmup), (True, args.duration)):
                if seconds <= 0:
                    continue
                waited = settle(pids, baseline, args.settle, slowest)
                settled[f"{name}{'' if measured else ' warm-up'}"] = waited
                if waited >= args.settle:
                    print(f"  server still busy after {waited} s; measuring anyway", flush=True)
                run_env = {**env, "BENCH_START": str(patched), "BENCH_RESOURCE_PATH": spec.path}
                figures = run_wrk(
                    server, script, path, seconds, args, run_env, accounting if measured else None
                )
                patched += figures["requests"] + args.connections if name == "patch" else 0
                slowest = figures["max_ms"] / 1000
            api[name] = figures
            r = api[name]
            print(
                f"  {rate(r['rps'])} req/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
                f"non-2xx {r['non2xx']}",
                flush=True,
            )

        settled["end"] = settle(pids, baseline, args.settle, slowest)
        idle["end"] = idle_cores(pids)
        print(f"  idle CPU (cores) at the end: {idle['end']}", flush=True)
        print(f"raw pymongo insert_one, {args.raw_seconds:.0f} s ...", flush=True)
        raw.update(raw_insert(spec, uri, ids[0], args.raw_seconds, accounting))
        counts = stored_counts(spec, uri)
        sampler.stop()
        hwm = {name: memory_kb(pid, "VmHWM") / 1024 for name, pid in pids.items()}
        rss = {name: kb / 1024 for name, kb in sampler.max_kb.items()}
        sampler = None
        stopped = stop_server(server)
        server = None

        results: dict[str, Any] = {
            "run": {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": " ".join([Path(sys.executable).name, *sys.argv]),
                "resource": spec.key,
                "count": args.count,
                "workers": args.workers or 2,
                "dispatcher": not args.no_dispatcher,
                "connections": args.connections,
                "wrk_threads": args.threads,
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "raw_seconds": args.raw_seconds,
                "raw_threads": RAW_THREADS,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "loaded_through": "API (POST, then merge-patch PATCH for states a create "
                "cannot reach)",
                "loadavg_end": Path("/proc/loadavg").read_text().split()[:3],
            },
            "load": load,
            "state_counts": {k: len(v) for k, v in sorted(by_state.items())},
            "api": api,
            "raw": raw,
            "api_over_raw": {
                "list": api["list"]["rps"] / raw["unfiltered_page"]["ops_per_second"],
                "list_filtered": api["list_filtered"]["rps"]
                / raw["filtered_page"]["ops_per_second"],
                "get_by_id": api["get_by_id"]["rps"] / raw["find_one_by_id"]["ops_per_second"],
            },
            "idle_cpu_cores": idle,
            "settle_waits_s": settled,
            "stored_after_load": after_load,
            "drain": drained,
            "stored_at_end": counts,
            "rss_max_mb": rss,
            "rss_peak_hwm_mb": hwm,
            "server_stop": stopped,
        }
        results["targets"] = check_targets(spec, results)
        print_report(spec, results)
        RESULTS_DIR.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = RESULTS_DIR / f"{spec.key}-{'quick-' if args.quick else ''}{stamp}.json"
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nserver stopped in {stopped['stop_seconds']} s (exit {stopped['exit_code']})")
        print(f"figures: {out.relative_to(REPO)}")
        return results, out
    finally:
        if sampler:
            sampler.stop()
        if server:
            stop_server(server)
        db.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
