"""Usage benchmark: rating throughput of bulk CDR ingestion, and POST /usage req/s.

    .venv/bin/python bench/usage_bench.py [--records 500000] [--subscribers 10000]
                                          [--post-seconds 20] [--chunk N]
                                          [--skip-bulk] [--skip-post] [--keep]

On an embedded SecantusDB in a fresh temporary directory:

1. Population, straight into the database (not through the API): the starter catalog, then
   N billing accounts and N active SIM Only 20 GB lines, each line a copy of one product
   ordered and fulfilled through the real code path (on a scratch database of the same
   server) with its own id, MSISDN, SIM, account and customer.
2. A CDR file of JSON lines, written as it is generated: records in time order over the
   current bill period so far (55 % data, 30 % voice, 15 % SMS; mostly at home, 8 % in the
   EU, 2 % in the US; 5 % of calls international; 0.5 % from unknown numbers, rejected).
3. Bulk: `python app.py rate-usage FILE` as a user runs it, timed, its peak memory read from
   the kernel when it exits; then the stored records checked against its report and the
   balances (allowance used = allowance rated, out-of-bundle totals = charges rated).
4. The same file again: every record a duplicate, nothing stored.
5. `python app.py serve` (2 workers, event dispatcher and background rating on) hit by wrk
   POSTing data records of known subscribers; then how long rating takes to catch up.

Figures are printed against the targets and written to bench/results/usage-<time>.json.
Needs wrk on PATH for step 5.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
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
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_bench import (
    DATABASE,
    REPO,
    RESULTS_DIR,
    Accounting,
    RssSampler,
    Server,
    children,
    cmdline,
    cpu_seconds,
    idle_cores,
    machine_busy_seconds,
    memory_kb,
    run_wrk,
    settle,
    start_server,
    stop_server,
)

from adapters import seeding
from adapters.demo_catalog import starter_catalog
from adapters.embedded_db import EmbeddedMongo
from adapters.mongo import connect
from adapters.settings import load_settings
from app import build_services
from domain.instants import format_instant

USAGE_PATH = "/tmf-api/usageManagement/v4/usage"
PLAN = "pos-sim-only-20gb"
LINE_START = "2026-01-01T00:00:00.000Z"  # before every usage record
INSERT_BATCH = 1000
SEED = 635

# the traffic mix of the CDR file
DATA_SHARE, VOICE_SHARE = 0.55, 0.30  # the rest is SMS
EU_SHARE, US_SHARE = 0.08, 0.02  # the rest at home (IE)
INTERNATIONAL_SHARE = 0.05  # of voice calls
UNKNOWN_SHARE = 0.005  # records of numbers no product ever had
ROAMING = {"FR": "208-01", "ES": "214-07", "DE": "262-01", "US": "310-260"}

# what the lead asked for (issue 5, point 7), on a 2-core box
BULK_TARGET_PER_SECOND = 3000
BULK_RSS_TARGET_MB = 300
POST_TARGET_PER_SECOND = 400


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500_000, help="CDRs in the bulk file")
    parser.add_argument("--subscribers", type=int, default=10_000, help="accounts and lines")
    parser.add_argument("--post-seconds", type=float, default=20.0, help="wrk run of POST")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of POST before")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--chunk", type=int, default=None, help="BSS_RATING_CHUNK (default: the app's)"
    )
    parser.add_argument("--catch-up", type=float, default=600.0, help="max wait for rating (s)")
    parser.add_argument("--skip-bulk", action="store_true", help="no bulk file run")
    parser.add_argument("--skip-post", action="store_true", help="no POST /usage run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    return args


class Phases:
    """Wall seconds of each phase, printed as it ends."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        print(f"{name} ...", flush=True)
        started = time.monotonic()
        yield
        self.seconds[name] = round(time.monotonic() - started, 1)
        print(f"  {name}: {self.seconds[name]} s", flush=True)


def rng_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# ---------------------------------------------------------------------------------------
# population


def template_product(uri: str) -> dict[str, Any]:
    """A line product as ordering and fulfilment store it: one order of the plan placed
    over HTTP and fulfilled, on a scratch database of the same server (dropped after)."""
    from tests.e2e.conftest import database_of
    from tests.e2e.ordering_setup import add, fulfil, new_customer, order_body, ordering_app, place

    with ordering_app(uri, numbers=5, sims=5, log_level="WARNING") as application:
        with application.test_client() as client:
            customer = new_customer(client)
            place(client, order_body(customer, add("1", PLAN)))
            fulfil(application)
        product = database_of(application).product.find_one({}, {"_id": 0})
    assert product is not None and product["status"] == "active", product
    return product


def billing_account(account_id: str, customer_id: str, i: int) -> dict[str, Any]:
    """A TMF666 BillingAccount as the API stores it (monthly cycle from the 1st, Irish VAT)."""
    return {
        "id": account_id,
        "name": f"Bench account {i:06d}",
        "state": "Active",
        "relatedParty": [{"id": customer_id, "role": "owner", "@referredType": "Customer"}],
        "currency": "EUR",
        "timeZone": "Europe/Dublin",
        "taxProfile": {"country": "IE"},
        "billStructure": {"cycleSpecification": {"billingDateShift": 0, "frequency": "monthly"}},
        "lastModified": LINE_START,
        "@type": "BillingAccount",
        "_v": 1,
    }


def line_product(
    template: dict[str, Any], i: int, msisdn: str, account: dict[str, Any], rng: random.Random
) -> dict[str, Any]:
    """The template line with its own id, number, SIM, account and customer, active since
    LINE_START."""
    product = copy.deepcopy(template)
    iccid, imsi = f"89353019{i:011d}", f"27213{i:010d}"
    product |= {
        "id": rng_uuid(rng),
        "orderDate": LINE_START,
        "startDate": LINE_START,
        "status": "active",
        "billingAccount": {
            "id": account["id"],
            "name": account["name"],
            "@referredType": "BillingAccount",
        },
        "relatedParty": [
            {
                "id": account["relatedParty"][0]["id"],
                "role": "Customer",
                "@referredType": "Customer",
            }
        ],
    }
    for term in product.get("productTerm") or []:
        term["validFor"] = {"startDateTime": LINE_START}
    for item in product["productCharacteristic"]:
        item["value"] = {"msisdn": msisdn, "iccid": iccid}.get(item["name"], item["value"])
    for resource in product["realizingResource"]:
        if resource["@referredType"] == "MSISDN":
            resource |= {"id": msisdn, "name": msisdn, "value": msisdn}
        else:
            resource |= {"id": iccid, "name": f"SIM {iccid}", "value": imsi}
    return product


def populate(uri: str, subscribers: int, phases: Phases) -> list[str]:
    """Catalog, accounts and lines; returns the lines' MSISDNs (subscriber order)."""
    rng = random.Random(SEED)
    with phases.timed("template product (order + fulfilment, scratch database)"):
        template = template_product(uri)
    with phases.timed("starter catalog and indexes"):
        settings = load_settings({"mongodb_uri": uri, "mongodb_database": DATABASE}, environ={})
        services = build_services(settings)  # ensures every index before the inserts
        seeding.load(services.resources, starter_catalog())
    db = services.extra["db"]
    msisdns = [f"+35387{n:07d}" for n in rng.sample(range(10**7), subscribers)]
    with phases.timed(f"insert {subscribers} billing accounts and {subscribers} lines"):
        for first in range(0, subscribers, INSERT_BATCH):
            accounts, products = [], []
            for i in range(first, min(first + INSERT_BATCH, subscribers)):
                account = billing_account(rng_uuid(rng), rng_uuid(rng), i)
                accounts.append(account)
                products.append(line_product(template, i, msisdns[i], account, rng))
            db.billingAccount.insert_many(accounts)
            db.product.insert_many(products)
    db.client.close()
    return msisdns


# ---------------------------------------------------------------------------------------
# the CDR file


def bill_period_so_far(now: datetime) -> tuple[datetime, datetime]:
    """The 1st of this month 00:00Z to ten minutes ago (last month's start on the 1st, so
    the span is never empty)."""
    end = now - timedelta(minutes=10)
    start = end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if end - start < timedelta(hours=1):
        start = (start - timedelta(days=1)).replace(day=1)
    return start, end


def irish_mobile(rng: random.Random) -> str:
    return f"+3538{rng.choice('3567')}{rng.randrange(10**7):07d}"


def cdr(i: int, at: datetime, msisdn: str, rng: random.Random) -> dict[str, Any]:
    """One Usage_Create record of the mix."""
    draw = rng.random()
    chars: list[tuple[str, Any]] = [("msisdn", msisdn)]
    if draw < DATA_SHARE:
        usage_type = "data"
        chars.append(("bytes", rng.randint(10_000, 50_000_000)))
    elif draw < DATA_SHARE + VOICE_SHARE:
        usage_type = "voice"
        chars.append(("durationSeconds", rng.randint(0, 1200)))
        international = rng.random() < INTERNATIONAL_SHARE
        called = f"+447{rng.randrange(10**9):09d}" if international else irish_mobile(rng)
        chars.append(("calledNumber", called))
    else:
        usage_type = "sms"
        chars += [("calledNumber", irish_mobile(rng)), ("messages", 1)]
    where = rng.random()
    country = "IE"
    if where < US_SHARE:
        country = "US"
    elif where < US_SHARE + EU_SHARE:
        country = rng.choice(("FR", "ES", "DE"))
    chars.append(("visitedCountry", country))
    if country in ROAMING:
        chars.append(("visitedNetwork", ROAMING[country]))
    return {
        "externalId": f"cdr-{i:07d}",
        "usageType": usage_type,
        "usageDate": format_instant(at),
        "usageCharacteristic": [
            {
                "name": name,
                "value": value,
                "valueType": "integer" if type(value) is int else "string",
            }
            for name, value in chars
        ],
    }


def write_cdr_file(path: Path, records: int, msisdns: list[str]) -> dict[str, Any]:
    """Writes the records as they are generated (never all in memory); returns the mix."""
    rng = random.Random(SEED + 1)
    start, end = bill_period_so_far(datetime.now(UTC))
    step = (end - start) / records
    mix: Counter[str] = Counter()
    with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
        for i in range(records):
            at = start + step * (i + rng.random())  # time order, jittered within its slot
            unknown = rng.random() < UNKNOWN_SHARE
            msisdn = f"+35389{rng.randrange(10**7):07d}" if unknown else rng.choice(msisdns)
            record = cdr(i, at, msisdn, rng)
            mix[record["usageType"]] += 1
            mix["unknown msisdn"] += unknown
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
    return {
        "records": records,
        "from": format_instant(start),
        "to": format_instant(end),
        "mix": dict(mix),
        "bytes": path.stat().st_size,
    }


# ---------------------------------------------------------------------------------------
# bulk: `app.py rate-usage`


class RunWatch(threading.Thread):
    """While rate-usage runs: RSS of it and of the database every half second, and how far
    it has read the CDR file every 2 s (printed every 30 s). The position comes from
    /proc/<pid>/fdinfo: counting the stored records would make the database scan the
    collection, which costs it seconds at a few hundred thousand records."""

    def __init__(self, pid: int, db_pid: int, path: Path, records: int) -> None:
        super().__init__(daemon=True)
        self._pid, self._db_pid = pid, db_pid
        self._path, self._records = path, records
        self._size = path.stat().st_size
        self._halt = threading.Event()
        self._began = time.monotonic()
        self.max_rss_kb = {"rate-usage": 0, "db": 0}
        self.progress: list[tuple[float, int, float, float]] = []  # s, read, rss MB, db MB

    def run(self) -> None:
        ticks = 0
        while not self._halt.wait(0.5):
            rss = {
                "rate-usage": memory_kb(self._pid, "VmRSS"),
                "db": memory_kb(self._db_pid, "VmRSS"),
            }
            for name, kb in rss.items():
                self.max_rss_kb[name] = max(self.max_rss_kb[name], kb)
            ticks += 1
            if ticks % 4 == 0:
                self._record(rss, print_it=ticks % 60 == 0)

    def _read_so_far(self) -> int | None:
        """Records read, estimated from the offset of the file in the process."""
        try:
            for fd in Path(f"/proc/{self._pid}/fd").iterdir():
                if fd.resolve() == self._path:
                    info = Path(f"/proc/{self._pid}/fdinfo/{fd.name}").read_text()
                    offset = int(info.split("pos:")[1].split()[0])
                    return round(self._records * offset / self._size)
        except (OSError, IndexError, ValueError):
            pass
        return None

    def _record(self, rss: dict[str, int], print_it: bool) -> None:
        elapsed = time.monotonic() - self._began
        read = self._read_so_far()
        if read is None:
            return
        mb = {name: round(kb / 1024, 1) for name, kb in rss.items()}
        self.progress.append((round(elapsed, 1), read, mb["rate-usage"], mb["db"]))
        if print_it:
            print(
                f"  {elapsed:.0f} s: ~{read} records read, rate-usage RSS {mb['rate-usage']} MB, "
                f"database RSS {mb['db']} MB",
                flush=True,
            )

    def stop(self) -> None:
        self._halt.set()
        if self.ident is not None:  # started
            self.join()


COUNTS = re.compile(r"(\d+) (total|rated|rejected|duplicate|malformed)\b")


def rate_usage(
    path: Path, records: int, uri: str, db_pid: int, label: str, settings: dict[str, str]
) -> dict[str, Any]:
    """Runs `app.py rate-usage FILE` as a user does (`settings`: more BSS_* variables); its
    wall time, peak RSS (the kernel's, from wait4), CPU, and the counts it printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BSS_") and k != "MONGODB_URI"}
    env |= {"MONGODB_URI": uri, "BSS_LOG_LEVEL": "WARNING", **settings}
    command = [str(REPO / ".venv" / "bin" / "python"), "app.py", "rate-usage", str(path)]
    log_path = path.with_name(f"rate-usage-{label}.log")
    db_cpu, machine, bench = cpu_seconds(db_pid), machine_busy_seconds(), sum(os.times()[:2])
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    watch = RunWatch(process.pid, db_pid, path.resolve(), records)
    try:
        watch.start()
        _, status, rusage = os.wait4(process.pid, 0)
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        watch.stop()
    wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu, db_cpu = rusage.ru_utime + rusage.ru_stime, cpu_seconds(db_pid) - db_cpu
    ours = cpu + db_cpu + sum(os.times()[:2]) - bench
    other_cores = max(machine_busy_seconds() - machine - ours, 0.0) / wall
    output = log_path.read_text()
    if process.returncode != 0:
        raise RuntimeError(f"rate-usage exited {process.returncode}:\n{output[-3000:]}")
    first = output.splitlines()[0]
    counts = {name: int(value) for value, name in COUNTS.findall(first)}
    batch_id = first.rsplit("usageBatch ", 1)[-1].rstrip(")")
    errors = [line.strip() for line in output.splitlines()[1:] if line.strip()]
    reasons = Counter(re.sub(r"^record \d+: ", "", line).split(":")[0] for line in errors)
    points = [(0.0, 0), *[(t, n) for t, n, _, _ in watch.progress], (wall, counts["total"])]
    return {
        "command": " ".join(command),
        "wall_seconds": round(wall, 2),
        "records_per_second": round(counts["total"] / wall, 1),
        "counts": counts,
        "usage_batch": batch_id,
        "errors_listed": len(errors),
        "error_reasons": dict(reasons),
        "peak_rss_mb": round(rusage.ru_maxrss / 1024, 1),
        "cpu_seconds": round(cpu, 1),
        "db_cpu_seconds": round(db_cpu, 1),
        "other_cores": round(other_cores, 2),  # CPU of processes outside the benchmark
        "db_max_rss_mb": round(watch.max_rss_kb["db"] / 1024, 1),
        "sampled_max_rss_mb": round(watch.max_rss_kb["rate-usage"] / 1024, 1),
        "progress": watch.progress,
        "rate_by_quarter": rate_by_quarter(points, wall),
    }


def rate_by_quarter(points: list[tuple[float, int]], wall: float) -> list[int]:
    """Records per second in each quarter of the run, from (seconds, records read) points:
    does rating slow down as the collection grows?"""
    rates = []
    for q in range(4):
        start, end = wall * q / 4, wall * (q + 1) / 4
        inside = [p for p in points if start <= p[0] <= end]
        if len(inside) >= 2 and inside[-1][0] > inside[0][0]:
            rates.append(round((inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])))
    return rates


def batch_seconds(uri: str, batch_id: str) -> float | None:
    """creationDate to completionDate of the usageBatch: the ingestion without start-up."""
    db = connect(uri, DATABASE)
    try:
        batch = db.usageBatch.find_one({"id": batch_id})
    finally:
        db.client.close()
    if not batch:
        return None
    started = datetime.fromisoformat(batch["creationDate"].replace("Z", "+00:00"))
    ended = datetime.fromisoformat(batch["completionDate"].replace("Z", "+00:00"))
    return round((ended - started).total_seconds(), 2)


# ---------------------------------------------------------------------------------------
# checks of what the bulk run stored


def amount(value: Any) -> Decimal:
    return Decimal(str(value))


def stored_usage(uri: str) -> dict[str, Any]:
    """One streamed pass over the usage records: counts by status, duplicate ids, rejection
    reasons, allowance rated per unit, out-of-bundle charges."""
    db = connect(uri, DATABASE)
    projection = {
        "_id": 0,
        "id": 1,
        "status": 1,
        "statusReason": 1,
        "ratedProductUsage.offerTariffType": 1,
        "ratedProductUsage.ratedQuantity": 1,
        "ratedProductUsage.taxIncludedRatingAmount": 1,
    }
    statuses: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    allowance: Counter[str] = Counter()
    charged = Decimal(0)
    ids: set[str] = set()
    duplicates = 0
    try:
        for usage in db.usage.find({}, projection).batch_size(5000):
            duplicates += usage["id"] in ids
            ids.add(usage["id"])
            statuses[usage["status"]] += 1
            if usage.get("statusReason"):
                reasons[re.sub(r"\+\d+|[0-9a-f-]{36}", "<n>", usage["statusReason"])] += 1
            for entry in usage.get("ratedProductUsage") or []:
                if entry["offerTariffType"] == "allowance":
                    allowance[entry["ratedQuantity"]["units"]] += entry["ratedQuantity"]["amount"]
                else:
                    charged += amount(entry["taxIncludedRatingAmount"]["value"])
    finally:
        db.client.close()
    return {
        "count": len(ids) + duplicates,
        "by_status": dict(statuses),
        "duplicate_ids": duplicates,
        "reasons": dict(reasons.most_common(5)),
        "allowance_rated": dict(allowance),
        "out_of_bundle_charged": charged,
    }


def balances(uri: str) -> dict[str, Any]:
    """The usageConsumption documents: allowance used per unit, out-of-bundle totals."""
    db = connect(uri, DATABASE)
    used: Counter[str] = Counter()
    charged = Decimal(0)
    documents = 0
    try:
        for doc in db.usageConsumption.find({}, {"_id": 0, "bucket": 1, "outOfBundleCharge": 1}):
            documents += 1
            for bucket in doc.get("bucket") or []:
                used[bucket["usedValue"]["units"]] += bucket["usedValue"]["amount"]
            if "outOfBundleCharge" in doc:
                charged += amount(doc["outOfBundleCharge"]["taxIncludedAmount"]["value"])
    finally:
        db.client.close()
    return {"documents": documents, "allowance_used": dict(used), "out_of_bundle_total": charged}


def verify_bulk(uri: str, bulk: dict[str, Any], expected_unknown: int) -> dict[str, Any]:
    usage, kept = stored_usage(uri), balances(uri)
    counts = bulk["counts"]
    stored = counts["rated"] + counts["rejected"]
    checks = {
        "usage count == stored": usage["count"] == stored,
        "no duplicate ids": usage["duplicate_ids"] == 0,
        "statuses == report": usage["by_status"]
        == {k: v for k, v in (("rated", counts["rated"]), ("rejected", counts["rejected"])) if v},
        "rejected == unknown MSISDNs": counts["rejected"] == expected_unknown,
        "nothing malformed or duplicate": counts["malformed"] == counts["duplicate"] == 0,
        "allowance used == allowance rated": kept["allowance_used"] == usage["allowance_rated"],
        "out-of-bundle totals == charges": kept["out_of_bundle_total"]
        == usage["out_of_bundle_charged"],
    }
    return {"usage": usage, "balances": kept, "checks": checks}


def usage_count(uri: str, where: dict[str, Any] | None = None) -> int:
    """Usage records (matching `where`, an indexed filter). All of them: the collection's
    count, not count_documents({}), an aggregation the embedded server answers by reading
    every record (30 s at 500,000)."""
    db = connect(uri, DATABASE)
    try:
        return db.usage.count_documents(where) if where else db.usage.estimated_document_count()
    finally:
        db.client.close()


# ---------------------------------------------------------------------------------------
# POST /usage


class Backlog(threading.Thread):
    """Usage records still `received` (not rated yet), every second."""

    def __init__(self, uri: str) -> None:
        super().__init__(daemon=True)
        self._usage = connect(uri, DATABASE).usage
        self._halt = threading.Event()
        self.samples: list[int] = []

    def run(self) -> None:
        while not self._halt.wait(1.0):
            self.samples.append(self.received())

    def received(self) -> int:
        return self._usage.count_documents({"status": "received"})

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self._usage.database.client.close()


def post_usage(
    server: Server, uri: str, db_pid: int, tmp: Path, msisdns: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    """wrk POSTing data records of known subscribers while the workers rate them in the
    background; then the wait until nothing is left `received`."""
    pids = {**server.workers, "server": server.process.pid, "db": db_pid}
    ids_file = tmp / "msisdns.txt"
    ids_file.write_text("\n".join(msisdns) + "\n")
    usage_date = format_instant(datetime.now(UTC) - timedelta(minutes=1))
    sampler = RssSampler(pids)
    sampler.start()
    idle = idle_cores(pids)
    baseline = idle["workers"] + idle["db"]
    before = usage_count(uri)
    rejected_before = usage_count(uri, {"status": "rejected"})
    env = {"BENCH_IDS": str(ids_file), "BENCH_USAGE_DATE": usage_date}
    run = f"{time.time_ns():x}"  # externalIds unique to this run, its warm-up apart
    if args.warmup > 0:
        run_wrk(server, "post_usage.lua", USAGE_PATH, args.warmup, args, {**env, "BENCH_RUN": run})
    waited = settle(pids, baseline, 120.0, 1.0)
    backlog = Backlog(uri)
    backlog.start()
    accounting = Accounting(pids)
    figures = run_wrk(
        server,
        "post_usage.lua",
        USAGE_PATH,
        args.post_seconds,
        args,
        {**env, "BENCH_RUN": f"{run}m"},
        accounting,
    )
    ended = time.monotonic()
    left = backlog.received()
    while left and time.monotonic() - ended < args.catch_up:
        time.sleep(0.5)
        left = backlog.received()
    lag = time.monotonic() - ended
    backlog.stop()
    sampler.stop()
    after = usage_count(uri)
    return {
        **figures,
        "usage_date": usage_date,
        "idle_cores_before": idle,
        "settled_after_warmup_s": waited,
        "received_at_end_of_wrk": backlog.samples[-1] if backlog.samples else None,
        "received_max_during_wrk": max(backlog.samples, default=0),
        "received_left": left,
        "rating_lag_s": round(lag, 1),
        "stored_by_posts": after - before,
        "rejected_by_posts": usage_count(uri, {"status": "rejected"}) - rejected_before,
        "worker_rss_max_mb": {k: round(v / 1024, 1) for k, v in sampler.max_kb.items()},
    }


# ---------------------------------------------------------------------------------------
# report


def targets(results: dict[str, Any]) -> list[tuple[str, str, bool]]:
    rows = []
    bulk = results.get("bulk")
    if bulk:
        rows.append(
            (
                f"bulk rating >= {BULK_TARGET_PER_SECOND} records/s",
                f"{bulk['records_per_second']:.0f} records/s",
                bulk["records_per_second"] >= BULK_TARGET_PER_SECOND,
            )
        )
        again = results["again"]
        peak = max(bulk["peak_rss_mb"], again["peak_rss_mb"])
        rows.append(
            (
                f"bulk peak RSS <= {BULK_RSS_TARGET_MB} MB",
                f"{bulk['peak_rss_mb']:.0f} MB, the same file again {again['peak_rss_mb']:.0f} MB",
                peak <= BULK_RSS_TARGET_MB,
            )
        )
        failed = [name for name, ok in results["verify"]["checks"].items() if not ok]
        rows.append(("stored records consistent", ", ".join(failed) or "all checks", not failed))
        stored = again["counts"]["rated"] + again["counts"]["rejected"]
        rows.append(
            (
                "same file again: nothing stored",
                f"{stored} stored, {again['counts']['duplicate']} duplicate",
                stored == 0 and again["stored_after"] == again["stored_before"],
            )
        )
    post = results.get("post")
    if post:
        rows.append(
            (
                f"POST /usage >= {POST_TARGET_PER_SECOND} req/s",
                f"{post['rps']:.0f} req/s",
                post["rps"] >= POST_TARGET_PER_SECOND,
            )
        )
        errors = post["non2xx"] + sum(post["socket_errors"].values())
        rows.append(("POST: no non-2xx / socket errors", str(errors), errors == 0))
        rows.append(
            (
                "POSTed records all rated",
                f"{post['received_left']} left received, {post['rejected_by_posts']} rejected",
                post["received_left"] == 0 and post["rejected_by_posts"] == 0,
            )
        )
    return rows


def print_report(results: dict[str, Any]) -> None:
    run = results["run"]
    print(
        f"\nUsage benchmark - {run['records']} records, {run['subscribers']} subscribers, "
        f"{run['cpus']} CPUs, code {run['code']}"
    )
    if bulk := results.get("bulk"):
        cdrs, again = results["cdr_file"], results["again"]
        print(
            f"CDR file: {cdrs['bytes'] / 1e6:.0f} MB, {cdrs['from']} .. {cdrs['to']}, {cdrs['mix']}"
        )
        print(
            f"bulk: {bulk['wall_seconds']} s wall ({bulk['ingest_seconds']} s in the usageBatch), "
            f"{bulk['records_per_second']:.0f} records/s; {bulk['counts']}; "
            f"CPU s: rate-usage {bulk['cpu_seconds']}, database {bulk['db_cpu_seconds']}, "
            f"other cores {bulk['other_cores']}"
        )
        print(
            f"  peak RSS rate-usage {bulk['peak_rss_mb']} MB (kernel), database max "
            f"{bulk['db_max_rss_mb']} MB; records/s by quarter: {bulk['rate_by_quarter']}"
        )
        verify = results["verify"]
        print(
            f"  stored: {verify['usage']['by_status']}, {verify['balances']['documents']} "
            f"balances; rejections: {verify['usage']['reasons']}"
        )
        print(
            f"  allowance rated {verify['usage']['allowance_rated']}, out-of-bundle "
            f"{verify['usage']['out_of_bundle_charged']} EUR incl. VAT"
        )
        print(
            f"again: {again['wall_seconds']} s ({again['records_per_second']:.0f} records/s), "
            f"{again['counts']}; usage count {again['stored_before']} -> {again['stored_after']}"
        )
    if post := results.get("post"):
        print(
            f"POST /usage: {post['rps']:.0f} req/s, p50 {post['p50_ms']:.1f} ms, "
            f"p99 {post['p99_ms']:.1f} ms, non-2xx {post['non2xx']}; CPU ms/req "
            f"api {post['cpu']['api_ms_per_op']}, db {post['cpu']['db_ms_per_op']}, other cores "
            f"{post['cpu']['other_cores']}"
        )
        print(
            f"  rating backlog: max {post['received_max_during_wrk']} received during wrk, "
            f"{post['received_at_end_of_wrk']} at its end, caught up {post['rating_lag_s']} s "
            f"after wrk; {post['stored_by_posts']} stored; worker RSS {post['worker_rss_max_mb']}"
        )
    print(f"phases (s): {results['phases']}")
    print()
    for name, value, ok in results["targets"]:
        print(f"  [{'ok  ' if ok else 'MISS'}] {name:<40} {value}")


def code_version() -> str:
    """The commit measured, and whether the tree had changes (others may be editing)."""

    def git(*words: str) -> str:
        done = subprocess.run(["git", *words], cwd=REPO, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if dirty else "")


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------


def app_settings(args: argparse.Namespace) -> dict[str, str]:
    """BSS_* variables the options set, for rate-usage and the server."""
    return {} if args.chunk is None else {"BSS_RATING_CHUNK": str(args.chunk)}


def bulk_runs(
    tmp: Path, uri: str, db_pid: int, msisdns: list[str], args: argparse.Namespace, phases: Phases
) -> dict[str, Any]:
    """The CDR file, its bulk rating, the checks, and the same file again."""
    path = tmp / "cdrs.jsonl"
    with phases.timed(f"write the CDR file ({args.records} records)"):
        cdrs = write_cdr_file(path, args.records, msisdns)
    with phases.timed("bulk rating: app.py rate-usage"):
        bulk = rate_usage(path, args.records, uri, db_pid, "first", app_settings(args))
    bulk["ingest_seconds"] = batch_seconds(uri, bulk["usage_batch"])
    print(f"  {bulk['records_per_second']:.0f} records/s, {bulk['counts']}", flush=True)
    with phases.timed("checks of the stored records and balances"):
        verify = verify_bulk(uri, bulk, cdrs["mix"].get("unknown msisdn", 0))
    print(f"  {verify['checks']}", flush=True)
    stored_before = usage_count(uri)
    with phases.timed("the same file again"):
        again = rate_usage(path, args.records, uri, db_pid, "again", app_settings(args))
    again |= {"stored_before": stored_before, "stored_after": usage_count(uri)}
    again.pop("progress")
    return {"cdr_file": cdrs, "bulk": bulk, "verify": verify, "again": again}


def terminated(*_: object) -> None:
    """A SIGTERM cleans up as Ctrl-C does (server, database, temporary directory); one more
    while cleaning up does not cut it short."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(143)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, terminated)
    if not args.skip_post and shutil.which("wrk") is None:
        print("wrk not found on PATH: install it (Debian/Ubuntu: apt-get install wrk)")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bss-bench-usage-"))
    db = EmbeddedMongo(tmp / "db")
    phases = Phases()
    results: dict[str, Any] = {
        "run": {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "records": args.records,
            "subscribers": args.subscribers,
            "post_seconds": args.post_seconds,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "rating_chunk": args.chunk or "app default",
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "code": code_version(),
        }
    }
    try:
        uri = db.start()
        db_pid = next(p for p in children(os.getpid()) if "secantusd" in cmdline(p))
        print(f"embedded database at {uri} (data in {tmp})", flush=True)
        msisdns = populate(uri, args.subscribers, phases)
        if not args.skip_bulk:
            results |= bulk_runs(tmp, uri, db_pid, msisdns, args, phases)
        if not args.skip_post:
            with phases.timed("start the server"):
                settings = {"BSS_JOBS": "true", **app_settings(args)}
                server = start_server(tmp, uri, None, True, settings)
            try:
                with phases.timed(f"POST /usage ({args.post_seconds:.0f} s) and rating catch-up"):
                    results["post"] = post_usage(server, uri, db_pid, tmp, msisdns, args)
            finally:
                results["server_stop"] = stop_server(server)
        results["phases"] = phases.seconds
        results["db_disk_mb"] = round(
            sum(f.stat().st_size for f in (tmp / "db").rglob("*") if f.is_file()) / 1e6, 1
        )
        results["targets"] = targets(results)
        print_report(results)
        RESULTS_DIR.mkdir(exist_ok=True)
        out = RESULTS_DIR / f"usage-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
        out.write_text(json.dumps(jsonable(results), indent=2) + "\n")
        print(f"figures: {out.relative_to(REPO)}")
        return 0
    finally:
        db.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
