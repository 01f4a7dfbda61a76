"""Usage of subscribers made by orders, rated over HTTP (TMF635): allowances, out-of-bundle
charges, bill-shock alerts and spend caps, rejections and recycling, bulk ingestion by the
usageBatch API and the rate-usage command, and two raters ingesting at once.

Amounts are read as Decimal and compared exactly: data is 0.04 EUR per started MB
tax-excluded at home and in the EU (the usage prices frozen on the line), 23 % VAT, each
rated entry rounded to the cent and its tax rounded on the rounded amount.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

import app as bss
from conftest import make_settings
from tests.e2e.checks import assert_tmf_error
from tests.e2e.conftest import database_of, running_app
from tests.e2e.ordering_setup import (
    ACCOUNTS,
    fulfil,
    order,
    order_body,
    ordering_app,
    outbox_events,
    place,
)
from tests.e2e.test_events import Listener, path, subscribed, wait_until
from tests.e2e.usage_setup import (
    BATCHES,
    CONSUMPTION,
    GB,
    HOME_NUMBER,
    MB,
    USAGE,
    USAGE_API,
    account_of,
    balance,
    consumptions,
    exact,
    now,
    rate,
    read_usage,
    record,
    send,
    subscriber,
    used,
)

UNKNOWN_NUMBER = "+353839999999"


# --- helpers ---------------------------------------------------------------------------


def entries(usage: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What each ratedProductUsage entry says: tariff, bucket, quantity, product, zone,
    tax-excluded and tax-included amounts."""
    return [
        (
            entry["offerTariffType"],
            entry.get("bucket"),
            entry["ratedQuantity"]["amount"],
            entry["ratedQuantity"]["units"],
            entry["productRef"]["id"],
            entry["usageRatingTag"],
            entry["taxExcludedRatingAmount"]["value"],
            entry["taxIncludedRatingAmount"]["value"],
        )
        for entry in usage["ratedProductUsage"]
    ]


def alerts(consumption: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (alert["type"], alert["threshold"], alert.get("bucket"), alert["usage"]["id"])
        for alert in consumption["alert"]
    ]


def money(value: str) -> dict[str, Any]:
    return {"unit": "EUR", "value": Decimal(value)}


def total_usage(client: Any) -> int:
    response = client.get(USAGE, params={"limit": 1})
    assert response.status_code in (200, 206), response.text
    return int(response.headers["x-total-count"])


def all_usage(client: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        response = client.get(USAGE, params={"offset": len(found), "limit": 1000})
        assert response.status_code in (200, 206), response.text
        found += exact(response)
        if len(found) >= int(response.headers["x-total-count"]):
            return found


@pytest.fixture
def shop(mongo_uri: str) -> Iterator[tuple[Any, Any]]:
    with ordering_app(mongo_uri) as application, application.test_client() as client:
        yield application, client


# --- the acceptance journey --------------------------------------------------------------


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    listening = Listener()
    listening.start()
    yield listening
    listening.stop()


def test_a_subscribers_usage_is_rated_into_allowances_charges_and_alerts(mongo_uri, listener):
    settings = {"dispatcher": True, "event_max_backoff_seconds": 1}
    with ordering_app(mongo_uri, **settings) as application, application.test_client() as client:
        sub = subscriber(application, client, "pos-sim-only-20gb", "pos-eu-roaming-pack")
        line, [pack], msisdn = sub["line"], sub["add_ons"], sub["msisdn"]
        plan_data, pack_data = "SIM Only 20 GB data", "EU Roaming Pack roaming data"
        at = path()
        query = "eventType=UsageConsumptionAlertEvent"
        with subscribed(client, listener.url(at), query, hub=f"{USAGE_API}/hub"):
            # 17 GB at home: 85 % of the plan's 20 GB
            home = send(application, client, record(msisdn, bytes=17 * GB, external_id="A"))
            assert home["status"] == "rated", home
            assert entries(home) == [
                ("allowance", plan_data, 17 * GB, "byte", line, "zone-home", 0, 0)
            ]
            assert home["relatedParty"] == [
                {"id": sub["customer"], "role": "Customer", "@referredType": "Customer"}
            ]
            assert used(balance(client, line), plan_data) == (17 * GB, 3 * GB)

            # 12 GB in France: the EU pack's 10 GB first, then 2 GB of the plan's
            roaming = send(application, client, record(msisdn, bytes=12 * GB, visitedCountry="FR"))
            assert entries(roaming) == [
                ("allowance", pack_data, 10 * GB, "byte", pack, "zone-eu", 0, 0),
                ("allowance", plan_data, 2 * GB, "byte", line, "zone-eu", 0, 0),
            ]
            # what the allowance is worth at the line's usage price: 0.04 per MB
            assert [e["bucketValueConvertedInAmount"] for e in roaming["ratedProductUsage"]] == [
                money("409.60"),
                money("81.92"),
            ]
            assert used(balance(client, pack), pack_data) == (10 * GB, 0)

            # 1 GB and 5.5 MB at home: the plan's last GB, then 6 started MB charged
            beyond = send(application, client, record(msisdn, bytes=GB + 5 * MB + MB // 2))
            allowance, charge = beyond["ratedProductUsage"]
            assert entries(beyond) == [
                ("allowance", plan_data, GB, "byte", line, "zone-home", 0, 0),
                (
                    "outOfBundle", None, 5 * MB + MB // 2, "byte", line, "zone-home",
                    Decimal("0.24"), Decimal("0.30"),
                ),
            ]  # fmt: skip
            assert charge["chargedQuantity"] == {"amount": 6, "units": "MB"}
            assert charge["productOfferingPrice"]["id"] == "pop-home-data"
            assert charge["taxRate"] == 23
            assert charge["isTaxExempt"] is False and charge["isBilled"] is False
            account = account_of(client, sub["customer"])
            assert charge["billingAccount"]["id"] == account
            assert allowance["billingPeriod"] == charge["billingPeriod"]

            # texts and a short call within the plan: the first minute counts whole
            text = send(
                application,
                client,
                record(msisdn, "sms", messages=2, calledNumber=HOME_NUMBER),
            )
            assert entries(text) == [
                ("allowance", "SIM Only 20 GB texts", 2, "SMS", line, "zone-home", 0, 0)
            ]
            call = send(
                application,
                client,
                record(msisdn, "voice", durationSeconds=30, calledNumber=HOME_NUMBER),
            )
            assert entries(call) == [
                ("allowance", "SIM Only 20 GB minutes", 60, "s", line, "zone-home", 0, 0)
            ]

            plan = balance(client, line)
            assert plan["msisdn"] == msisdn
            assert plan["billingAccount"]["id"] == account
            assert plan["validFor"] == charge["billingPeriod"]
            assert used(plan, plan_data) == (20 * GB, 0)
            assert used(plan, "SIM Only 20 GB texts") == (2, 998)
            assert used(plan, "SIM Only 20 GB minutes") == (60, 60000 - 60)
            assert plan["outOfBundleCharge"] == {
                "dutyFreeAmount": money("0.24"),
                "taxIncludedAmount": money("0.30"),
            }
            assert plan["barred"] is False
            assert alerts(plan) == [
                ("allowance", 80, plan_data, home["id"]),
                ("allowance", 100, plan_data, beyond["id"]),
            ]
            assert [a["reachedDate"] for a in plan["alert"]] == [
                home["usageDate"],
                beyond["usageDate"],
            ]
            assert alerts(balance(client, pack)) == [
                ("allowance", 80, pack_data, roaming["id"]),
                ("allowance", 100, pack_data, roaming["id"]),
            ]

            events = wait_until(
                lambda: len(found := listener.events(at)) >= 4 and found,
                "four alert events",
            )
        assert sorted(
            (e["event"]["usageConsumption"]["product"]["id"], e["fieldPath"]) for e in events
        ) == sorted(
            [
                (line, "alert.allowance.80"),
                (pack, "alert.allowance.80"),
                (pack, "alert.allowance.100"),
                (line, "alert.allowance.100"),
            ]
        )
        assert {e["eventType"] for e in events} == {"UsageConsumptionAlertEvent"}
        [at_80] = [
            e["event"]["usageConsumption"]
            for e in events
            if e["event"]["usageConsumption"]["product"]["id"] == line
            and e["fieldPath"] == "alert.allowance.80"
        ]
        # the balance as it was when the alert was raised
        assert used(at_80, plan_data) == (17 * GB, 3 * GB)
        assert at_80["href"] == f"http://bss.test{CONSUMPTION}/{plan['id']}"

        changes = outbox_events(application, f"usage/{home['id']}", "UsageStateChangeEvent")
        assert [e["event"]["usage"]["status"] for e in changes] == ["rated"]


# --- spend cap ---------------------------------------------------------------------------


def test_chargeable_usage_is_barred_at_the_spend_cap_and_allowances_still_pass(shop):
    application, client = shop
    sub = subscriber(application, client, "pos-sim-only-5gb")
    line, msisdn = sub["line"], sub["msisdn"]
    account = account_of(client, sub["customer"])
    capped = client.patch(
        f"{ACCOUNTS}/{account}",
        json={"spendCap": {"unit": "EUR", "value": 1}, "barAtSpendCap": True},
    )
    assert capped.status_code == 200, capped.text

    # 10 MB beyond the plan's 5 GB: 0.40 + 0.09 VAT
    first = send(application, client, record(msisdn, bytes=5 * GB + 10 * MB))
    assert entries(first)[-1][-2:] == (Decimal("0.40"), Decimal("0.49"))
    second = send(application, client, record(msisdn, bytes=10 * MB))  # 0.98: 80 % of 1.00
    third = send(application, client, record(msisdn, bytes=MB))  # 1.03: the cap is reached
    assert [u["status"] for u in (first, second, third)] == ["rated"] * 3
    assert entries(third) == [
        ("outOfBundle", None, MB, "byte", line, "zone-home", Decimal("0.04"), Decimal("0.05"))
    ]

    barred = send(application, client, record(msisdn, bytes=1))
    assert barred["status"] == "rejected"
    assert "spend cap" in barred["statusReason"]
    assert "ratedProductUsage" not in barred
    text = send(application, client, record(msisdn, "sms", calledNumber=HOME_NUMBER))
    assert text["status"] == "rated"
    assert entries(text) == [
        ("allowance", "SIM Only 5 GB texts", 1, "SMS", line, "zone-home", 0, 0)
    ]

    plan = balance(client, line)
    assert plan["barred"] is True
    assert plan["spendCap"] == money("1")
    assert plan["outOfBundleCharge"] == {
        "dutyFreeAmount": money("0.84"),
        "taxIncludedAmount": money("1.03"),
    }
    assert alerts(plan) == [
        ("allowance", 80, "SIM Only 5 GB data", first["id"]),
        ("allowance", 100, "SIM Only 5 GB data", first["id"]),
        ("spendCap", 80, None, second["id"]),
        ("spendCap", 100, None, third["id"]),
    ]
    assert used(plan, "SIM Only 5 GB texts") == (1, 299)


# --- rejections and recycling -------------------------------------------------------------


def change_line(application: Any, client: Any, customer: str, line: str, status: str) -> None:
    """Suspends or resumes the line with a modify order."""
    item = {"id": "1", "action": "modify", "product": {"id": line, "status": status}}
    placed = place(client, order_body(customer, item))
    fulfil(application)
    assert order(client, placed["id"])["state"] == "completed"


def test_rejected_records_are_kept_with_reasons_and_rated_once_recycled(shop):
    application, client = shop
    sub = subscriber(application, client, "pos-sim-only-5gb")
    line, msisdn = sub["line"], sub["msisdn"]

    unknown = send(application, client, record(UNKNOWN_NUMBER, bytes=MB))
    assert unknown["status"] == "rejected"
    assert UNKNOWN_NUMBER in unknown["statusReason"]
    assert "unknown MSISDN" in unknown["statusReason"]

    change_line(application, client, sub["customer"], line, "suspended")
    while_suspended = send(application, client, record(msisdn, bytes=MB))
    assert while_suspended["status"] == "rejected"
    assert while_suspended["statusReason"] == f"product {line} of {msisdn} is suspended"
    assert consumptions(client, line) == []  # nothing was consumed
    rejected = client.get(USAGE, params={"status": "rejected"}).json()
    assert sorted(u["id"] for u in rejected) == sorted([unknown["id"], while_suspended["id"]])

    # a rejected record goes back to rating only once its cause is fixed: recycling it
    # while the line is still suspended rejects it again
    url = f"{USAGE}/{while_suspended['id']}"
    assert client.patch(url, json={"status": "recycled"}).json()["status"] == "recycled"
    assert rate(application) == 1
    assert read_usage(client, while_suspended["id"])["status"] == "rejected"

    change_line(application, client, sub["customer"], line, "active")
    recycled = client.patch(url, json={"status": "recycled"})
    assert recycled.status_code == 200, recycled.text
    assert recycled.json()["status"] == "recycled"
    assert rate(application) == 1
    rated = read_usage(client, while_suspended["id"])
    assert rated["status"] == "rated"
    assert "statusReason" not in rated
    assert entries(rated) == [
        ("allowance", "SIM Only 5 GB data", MB, "byte", line, "zone-home", 0, 0)
    ]
    assert used(balance(client, line), "SIM Only 5 GB data") == (MB, 5 * GB - MB)

    # a rated record cannot be recycled (rated twice); the unknown number stays unknown
    refused = client.patch(url, json={"status": "recycled"})
    assert refused.status_code == 400, refused.text
    assert client.patch(f"{USAGE}/{unknown['id']}", json={"status": "recycled"}).status_code == 200
    assert rate(application) == 1
    assert read_usage(client, unknown["id"])["status"] == "rejected"
    assert rate(application) == 0


# --- bulk ingestion ------------------------------------------------------------------------


def test_a_usage_batch_rates_the_good_records_and_reports_the_others(shop):
    application, client = shop
    sub = subscriber(application, client, "pos-sim-only-5gb")
    line, msisdn = sub["line"], sub["msisdn"]
    good = [
        record(msisdn, bytes=100 * MB, external_id="B-1"),
        record(msisdn, "sms", external_id="B-2", calledNumber=HOME_NUMBER),
        record(msisdn, "voice", external_id="B-3", durationSeconds=90, calledNumber=HOME_NUMBER),
        record(UNKNOWN_NUMBER, bytes=MB, external_id="B-4"),  # stored, rejected
    ]
    no_date = record(msisdn, bytes=MB, external_id="B-5")
    del no_date["usageDate"]
    batch = [
        good[0],
        no_date,
        good[1],
        record("0831234567", bytes=MB, external_id="B-6"),  # not E.164
        good[2],
        dict(good[0], description="the same record again"),
        good[3],
    ]
    before = total_usage(client)
    # a record that is not even an object makes the request itself malformed
    refused = client.post(BATCHES, json={"usage": [*batch[:4], "not a record", *batch[4:]]})
    assert "usage.4" in assert_tmf_error(refused, 400)["message"]
    assert total_usage(client) == before

    response = client.post(BATCHES, json={"description": "nightly CDRs", "usage": batch})
    assert response.status_code == 201, response.text
    report = response.json()
    assert response.headers["location"] == report["href"]
    assert (report["state"], report["source"], report["description"]) == (
        "done",
        "api",
        "nightly CDRs",
    )
    counts = {key: report[key] for key in ("total", "stored", "rated", "rejected")}
    assert counts == {"total": 7, "stored": 4, "rated": 3, "rejected": 1}
    assert (report["duplicate"], report["malformed"]) == (1, 2)
    errors = {error["index"]: error for error in report["error"]}
    assert sorted(errors) == [1, 3, 5]
    assert "usageDate" in errors[1]["reason"] and errors[1]["externalId"] == "B-5"
    assert "msisdn" in errors[3]["reason"] and errors[3]["externalId"] == "B-6"
    assert "duplicate" in errors[5]["reason"] and errors[5]["externalId"] == "B-1"
    assert client.get(f"{BATCHES}/{report['id']}").json() == report
    assert total_usage(client) == before + 4
    stored = {u["externalId"]: u for u in client.get(USAGE, params={"limit": 100}).json()}
    assert {key: stored[key]["status"] for key in stored} == {
        "B-1": "rated",
        "B-2": "rated",
        "B-3": "rated",
        "B-4": "rejected",
    }
    assert UNKNOWN_NUMBER in stored["B-4"]["statusReason"]
    plan = balance(client, line)
    assert used(plan, "SIM Only 5 GB data") == (100 * MB, 5 * GB - 100 * MB)
    assert used(plan, "SIM Only 5 GB minutes") == (90, 300 * 60 - 90)
    assert rate(application) == 0  # a batch is rated before its answer

    again = client.post(BATCHES, json={"usage": batch})
    assert again.status_code == 201, again.text
    repeat = again.json()
    assert {key: repeat[key] for key in ("total", "stored", "rated", "rejected")} == {
        "total": 7,
        "stored": 0,
        "rated": 0,
        "rejected": 0,
    }
    assert (repeat["duplicate"], repeat["malformed"]) == (5, 2)
    assert sorted(e["index"] for e in repeat["error"]) == list(range(7))
    assert total_usage(client) == before + 4
    assert balance(client, line) == plan  # no record was rated twice

    single = client.post(USAGE, json=good[1])  # one by one, the same record is refused
    assert single.status_code == 409, single.text
    assert total_usage(client) == before + 4


def test_the_rate_usage_command_ingests_json_lines_and_csv_files(mongo_uri, shop, tmp_path, capsys):
    application, client = shop
    sub = subscriber(application, client, "pos-sim-only-5gb")
    line, msisdn = sub["line"], sub["msisdn"]
    lines = tmp_path / "cdr-0001.jsonl"
    lines.write_text(
        "\n".join(
            [
                json.dumps(record(msisdn, bytes=3 * MB, external_id="F-1")),
                "{not json",
                json.dumps(record(msisdn, "sms", external_id="F-2", calledNumber=HOME_NUMBER)),
                "",
                json.dumps(record(UNKNOWN_NUMBER, bytes=MB, external_id="F-3")),
                "42",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    table = tmp_path / "cdr-0002.csv"
    stamp = now()
    table.write_text(
        "externalId,usageType,usageDate,msisdn,bytes,messages,calledNumber,visitedCountry\n"
        f"C-1,data,{stamp},{msisdn},{2 * MB},,,ES\n"
        f"C-2,data,{stamp},{msisdn},{MB}\n"
        f"C-3,sms,{stamp},{msisdn},,3,{HOME_NUMBER},\n",
        encoding="utf-8",
    )
    settings = make_settings(mongo_uri, database_of(application).name)

    bss.rate_usage(settings, [str(lines), str(table)])
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(
        f"{lines}: 5 total, 2 rated, 1 rejected, 0 duplicate, 2 malformed (usageBatch "
    )
    assert printed[1].startswith("  record 1: line 2: not JSON (")
    assert printed[2] == "  record 4: not a JSON object"
    assert printed[3].startswith(
        f"{table}: 3 total, 2 rated, 0 rejected, 0 duplicate, 1 malformed (usageBatch "
    )
    assert printed[4] == "  record 1: line 3: wrong number of columns"
    assert len(printed) == 5

    stored = {u["externalId"]: u for u in client.get(USAGE, params={"limit": 100}).json()}
    assert {key: stored[key]["status"] for key in stored} == {
        "F-1": "rated",
        "F-2": "rated",
        "F-3": "rejected",
        "C-1": "rated",
        "C-3": "rated",
    }
    assert stored["C-1"]["ratedProductUsage"][0]["usageRatingTag"] == "zone-eu"
    plan = balance(client, line)
    assert used(plan, "SIM Only 5 GB data") == (5 * MB, 5 * GB - 5 * MB)
    assert used(plan, "SIM Only 5 GB texts") == (4, 296)
    batches = client.get(BATCHES, params={"source": "cdr-0002.csv"}).json()
    assert [(b["total"], b["stored"]) for b in batches] == [(3, 2)]

    bss.rate_usage(settings, [str(lines)])
    assert capsys.readouterr().out.startswith(
        f"{lines}: 5 total, 0 rated, 0 rejected, 3 duplicate, 2 malformed"
    )
    assert total_usage(client) == 5
    assert balance(client, line) == plan


# --- two raters at once ------------------------------------------------------------------

LINES, RECORDS, OVERLAP = 4, 240, 120


def traffic(msisdns: list[str]) -> list[dict[str, Any]]:
    """RECORDS records spread over the lines, each with its externalId: data (beyond the
    allowances before long), texts and calls."""
    records = []
    for n in range(RECORDS):
        msisdn, external_id = msisdns[n % len(msisdns)], f"T-{n}"
        if n % 3 == 0:
            records.append(record(msisdn, "data", external_id, bytes=(n + 1) * 40 * MB))
        elif n % 3 == 1:
            texts = {"messages": n % 7 + 1, "calledNumber": HOME_NUMBER}
            records.append(record(msisdn, "sms", external_id, **texts))
        else:
            call = {"durationSeconds": n * 7, "calledNumber": HOME_NUMBER}
            records.append(record(msisdn, "voice", external_id, **call))
    return records


def test_two_raters_ingesting_at_once_rate_every_record_exactly_once(mongo_uri):
    with (
        ordering_app(mongo_uri) as first,
        first.test_client() as client,
        running_app(mongo_uri, database_of(first).name) as second,
        second.test_client() as other,
    ):
        subs = [subscriber(first, client, "pos-sim-only-5gb") for _ in range(LINES)]
        records = traffic([s["msisdn"] for s in subs])
        half = (RECORDS + OVERLAP) // 2
        batches = [(client, records[:half]), (other, records[RECORDS - half :])]

        def ingest(work: tuple[Any, list[dict[str, Any]]]) -> dict[str, Any]:
            sender, chunk = work
            response = sender.post(BATCHES, json={"usage": chunk})
            assert response.status_code == 201, response.text
            return response.json()

        with ThreadPoolExecutor(max_workers=2) as pool:
            reports = list(pool.map(ingest, batches))

        assert sum(r["stored"] for r in reports) == RECORDS
        assert all(r["stored"] >= RECORDS - half for r in reports)  # each took its own part
        assert sum(r["duplicate"] for r in reports) == OVERLAP
        assert all(r["malformed"] == 0 and r["rejected"] == 0 for r in reports)
        stored = all_usage(client)
        assert Counter(u["externalId"] for u in stored) == {f"T-{n}": 1 for n in range(RECORDS)}
        assert {u["status"] for u in stored} == {"rated"}

        # what the rated records say each balance should hold, by product and period
        consumed: dict[tuple[str, str, str], int] = defaultdict(int)  # and bucket
        charged: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for usage in stored:
            for entry in usage["ratedProductUsage"]:
                where = (entry["productRef"]["id"], entry["billingPeriod"]["startDateTime"])
                if entry["offerTariffType"] == "allowance":
                    consumed[(*where, entry["bucket"])] += entry["ratedQuantity"]["amount"]
                else:
                    charged[where] += entry["taxIncludedRatingAmount"]["value"]
        documents = exact(client.get(CONSUMPTION, params={"limit": 1000}))
        assert len(documents) == LINES
        for document in documents:
            product_id = document["product"]["id"]
            period = document["validFor"]["startDateTime"]
            for counted in document["bucket"]:
                amount = consumed[(product_id, period, counted["name"])]
                assert counted["usedValue"]["amount"] == amount, (product_id, counted["name"])
                assert counted["remainingValue"]["amount"] == (
                    counted["initialValue"]["amount"] - amount
                )
            assert (
                document["outOfBundleCharge"]["taxIncludedAmount"]["value"]
                == charged[(product_id, period)]
            )
        assert any(charged.values())  # some lines went beyond their allowance
