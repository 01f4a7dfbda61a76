"""Order benchmark: TMF622 product orders per second from POST to `completed`.

    .venv/bin/python bench/order_bench.py [--orders N] [--concurrency C] [--workers W]
                                          [--latency-ms MS] [--keep]

Starts an embedded SecantusDB in a fresh temporary directory and `python app.py serve` on it
as a user would (demo data: starter catalog, 50 customers, number pool and SIM stock sized
for the run; production defaults otherwise: uvicorn workers each running the event dispatcher
and order fulfilment; the simulated network answers after --latency-ms, 0 by default). Then C
client threads POST N single-line orders (a SIM Only plan for a random Approved or Validated
demo customer) as fast as the server takes them, while fulfilment runs. Measured: POST
latency (p50/p99/max, client side, over keep-alive connections), orders per second from the
first POST to the last order reaching a final state, the state every order ended in, and the
resident memory of each worker sampled through the run (growth = last tenth against the
first tenth). Figures are printed and written to bench/results/orders-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_bench import (
    REPO,
    RESULTS_DIR,
    Client,
    children,
    cmdline,
    cpu_seconds,
    memory_kb,
    start_server,
    stop_server,
)

from adapters.embedded_db import EmbeddedMongo
from adapters.mongo import connect
from domain.ordering import FINAL

ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
CUSTOMERS = "/tmf-api/customerManagement/v4/customer"
PLANS = ("pos-sim-only-5gb", "pos-sim-only-20gb", "pos-sim-only-unlimited")
TARGET_ORDERS_PER_SECOND = 100
TARGET_POST_P99_MS = 50.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8, help="client threads posting")
    parser.add_argument("--workers", type=int, default=None, help="uvicorn workers (default 2)")
    parser.add_argument("--latency-ms", type=int, default=0, help="simulated network latency")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for all")
    parser.add_argument(
        "--no-dispatcher", action="store_true", help="no event dispatcher in the API processes"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser.parse_args(argv)


class Progress(threading.Thread):
    """Every second: orders in a final state (from the database) and worker RSS."""

    def __init__(self, uri: str, workers: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self._orders = connect(uri, "bss")["productOrder"]
        self._workers = workers
        self.samples: list[tuple[float, int, dict[str, float]]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(1.0):
            self.sample()

    def sample(self) -> int:
        final = self._orders.count_documents({"state": {"$in": sorted(FINAL)}})
        rss = {name: memory_kb(pid, "VmRSS") / 1024 for name, pid in self._workers.items()}
        self.samples.append((time.monotonic(), final, rss))
        return final

    def stop(self) -> None:
        self._halt.set()
        self.join()


def order_body(customer: str, rng: random.Random) -> dict[str, Any]:
    return {
        "relatedParty": [{"id": customer, "role": "Customer", "@referredType": "Customer"}],
        "productOrderItem": [
            {"id": "1", "action": "add", "productOffering": {"id": rng.choice(PLANS)}}
        ],
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def rss_growth(samples: list[tuple[float, int, dict[str, float]]]) -> dict[str, Any]:
    """Per worker: mean RSS over the first and the last tenth of the samples."""
    tenth = max(len(samples) // 10, 1)
    growth = {}
    for name in samples[0][2]:
        first = statistics.mean(s[2][name] for s in samples[:tenth])
        last = statistics.mean(s[2][name] for s in samples[-tenth:])
        peak = max(s[2][name] for s in samples)
        growth[name] = {
            "first_tenth_mb": round(first, 1),
            "last_tenth_mb": round(last, 1),
            "peak_mb": round(peak, 1),
        }
    return growth


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bss-bench-orders-"))
    db = EmbeddedMongo(tmp / "db")
    server = None
    try:
        uri = db.start()
        pool = str(args.orders + 100)
        settings = {
            "BSS_DEMO_DATA": "true",
            "BSS_DEMO_NUMBERS": pool,
            "BSS_DEMO_SIMS": pool,
            "BSS_NETWORK_LATENCY_MS": str(args.latency_ms),
        }
        print(f"embedded database at {uri}; starting the server with demo data ...", flush=True)
        server = start_server(tmp, uri, args.workers, not args.no_dispatcher, settings)
        db_pid = next(p for p in children(os.getpid()) if "secantusd" in cmdline(p))
        print(f"server on port {server.port}, workers {server.workers}", flush=True)
        client = Client(server.port)
        customers, _ = client.call("GET", f"{CUSTOMERS}?status=Approved,Validated&limit=100")
        ids = [c["id"] for c in customers]
        rng = random.Random(11)
        bodies = [order_body(rng.choice(ids), rng) for _ in range(args.orders)]
        progress = Progress(uri, server.workers)
        progress.sample()
        progress.start()
        cpu_before = {n: cpu_seconds(p) for n, p in {**server.workers, "db": db_pid}.items()}
        latencies: list[float] = []
        lock = threading.Lock()

        def post(body: dict[str, Any]) -> None:
            started = time.perf_counter()
            client.call("POST", ORDERS, body)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed * 1000)

        print(f"posting {args.orders} orders from {args.concurrency} threads ...", flush=True)
        first_post = time.monotonic()
        with ThreadPoolExecutor(args.concurrency) as threads:
            list(threads.map(post, bodies))
        posted = time.monotonic()
        print(
            f"  posted in {posted - first_post:.1f} s ({args.orders / (posted - first_post):.0f}"
            f"/s); POST p50 {percentile(latencies, 0.5):.1f} ms, "
            f"p99 {percentile(latencies, 0.99):.1f} ms",
            flush=True,
        )
        deadline = time.monotonic() + args.timeout
        final = progress.sample()
        while final < args.orders and time.monotonic() < deadline:
            time.sleep(1.0)
            final = progress.sample()
        finished = time.monotonic()
        progress.stop()
        done_at = next((t for t, n, _ in progress.samples if n >= args.orders), finished)
        cpu = {
            n: round(cpu_seconds(p) - cpu_before[n], 1)
            for n, p in {**server.workers, "db": db_pid}.items()
        }
        orders = connect(uri, "bss")["productOrder"]
        states = {
            g["_id"]: g["n"]
            for g in orders.aggregate([{"$group": {"_id": "$state", "n": {"$sum": 1}}}])
        }
        seconds = done_at - first_post
        results: dict[str, Any] = {
            "run": {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": " ".join([Path(sys.executable).name, *sys.argv]),
                "orders": args.orders,
                "concurrency": args.concurrency,
                "workers": args.workers or 2,
                "network_latency_ms": args.latency_ms,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            },
            "post": {
                "seconds": round(posted - first_post, 2),
                "per_second": round(args.orders / (posted - first_post), 1),
                "p50_ms": round(percentile(latencies, 0.5), 1),
                "p99_ms": round(percentile(latencies, 0.99), 1),
                "max_ms": round(max(latencies), 1),
            },
            "end_to_end": {
                "all_final": final >= args.orders,
                "seconds": round(seconds, 2),
                "orders_per_second": round(min(final, args.orders) / seconds, 1),
            },
            "states": states,
            "cpu_seconds": cpu,
            "rss": rss_growth(progress.samples),
            "server_stop": None,
        }
        results["server_stop"] = stop_server(server)
        server = None
        report(results)
        RESULTS_DIR.mkdir(exist_ok=True)
        out = RESULTS_DIR / f"orders-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"figures: {out.relative_to(REPO)}")
        return 0 if results["end_to_end"]["all_final"] else 1
    finally:
        if server:
            stop_server(server)
        db.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def report(results: dict[str, Any]) -> None:
    post, e2e = results["post"], results["end_to_end"]
    rows = [
        (
            "orders/s, POST to final state",
            f"{e2e['orders_per_second']}",
            e2e["orders_per_second"] >= TARGET_ORDERS_PER_SECOND,
        ),
        (
            "POST p99 (ms) while fulfilment runs",
            f"{post['p99_ms']}",
            post["p99_ms"] <= TARGET_POST_P99_MS,
        ),
    ]
    for name, rss in results["rss"].items():
        grew = rss["last_tenth_mb"] - rss["first_tenth_mb"]
        rows.append(
            (
                f"RSS {name}: first/last tenth, peak (MB)",
                f"{rss['first_tenth_mb']} / {rss['last_tenth_mb']}, {rss['peak_mb']}",
                grew <= max(5.0, 0.05 * rss["first_tenth_mb"]),
            )
        )
    print(f"\nstates: {results['states']}; POST {post['per_second']}/s, p50 {post['p50_ms']} ms")
    print(f"CPU seconds over the run: {results['cpu_seconds']}")
    for name, value, ok in rows:
        print(f"  [{'ok  ' if ok else 'MISS'}] {name:<42} {value}")


if __name__ == "__main__":
    raise SystemExit(main())
