"""TMF635 usage records, usage specifications, and our two extensions of the usage API:
usageConsumption (balances, modelled on TMF677 buckets) and usageBatch (a bulk ingestion
report).

A usage record names its subscriber and quantity in `usageCharacteristic`:
  msisdn          all types   the subscriber's number, E.164
  visitedCountry  all types   ISO 3166 alpha-2 where it happened (default: home, IE)
  visitedNetwork  all types   MCC-MNC of the network (kept, not rated)
  bytes           data        volume up and down
  durationSeconds voice       answered duration (data: kept, not rated)
  calledNumber    voice, sms  the other party, E.164
  messages        sms         number of messages (default 1)
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain import events as ev
from domain.errors import InvalidRequest
from domain.instants import parse_instant
from domain.lifecycle import Lifecycle
from domain.query import AttrType, Criterion
from domain.resource import Lookup, ResourceType, Rules
from domain.security import partner_key

DATA, VOICE, SMS = "data", "voice", "sms"
USAGE_TYPES = (DATA, VOICE, SMS)
HOME_COUNTRY = "IE"
# the quantity each type is rated on, and its unit on the wire
QUANTITY = {DATA: ("bytes", "byte"), VOICE: ("durationSeconds", "s"), SMS: ("messages", "SMS")}
# how far ahead of the server's clock a record may be dated (clock skew of the source)
FUTURE_TOLERANCE = timedelta(minutes=5)

RECEIVED, REJECTED, RECYCLED, GUIDED = "received", "rejected", "recycled", "guided"
RATED, RERATED, BILLED = "rated", "rerated", "billed"

USAGE_LIFECYCLE = Lifecycle(
    attribute="status",
    transitions={
        RECEIVED: frozenset({RATED, REJECTED, GUIDED}),
        GUIDED: frozenset({RATED, REJECTED}),
        REJECTED: frozenset({RECYCLED}),
        RECYCLED: frozenset({RATED, REJECTED}),
        RATED: frozenset({BILLED, RERATED}),
        RERATED: frozenset({BILLED}),
        BILLED: frozenset(),
    },
    initial=RECEIVED,
    creatable=frozenset({RECEIVED}),
)
SERVER_WRITTEN = frozenset({"ratedProductUsage", "statusReason"})

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
ALERT = "Alert"  # UsageConsumptionAlertEvent: a bill-shock threshold was passed
PERIOD_MARK = "@"  # between the product id and the period start in a balance id
SOURCE_IDS = uuid.UUID("6f1b2d2e-5b8a-4f51-9a57-52c1a3d8e0b7")


def usage_id_for(external_id: Any, partner: str | None = None) -> str:
    """A record's id: derived from its source record id (externalId) when it has one, so
    that the same record sent twice has the same id and is stored once; unique per partner
    (domain/security.py partner_key)."""
    if isinstance(external_id, str) and external_id:
        return str(uuid.uuid5(SOURCE_IDS, partner_key(partner, external_id)))
    return str(uuid.uuid4())


@dataclass(frozen=True)
class UsageRecord:
    """What rating reads of a usage record."""

    usage_type: str
    at: datetime
    msisdn: str
    quantity: int  # bytes, seconds or messages
    country: str
    called: str | None = None


def characteristics(usage: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in usage.get("usageCharacteristic") or []:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise InvalidRequest("usageCharacteristic: every item needs a name and a value")
        if item["name"] in found:
            raise InvalidRequest(f"usageCharacteristic: '{item['name']}' is given twice")
        found[item["name"]] = item.get("value")
    return found


def parse_record(usage: Mapping[str, Any], now: datetime | None = None) -> UsageRecord:
    """The record's rating facts; InvalidRequest names what is malformed. A record dated
    after `now` (beyond the tolerance) is malformed."""
    usage_type = usage.get("usageType")
    if usage_type not in USAGE_TYPES:
        raise InvalidRequest(f"usageType: '{usage_type}' is not one of {', '.join(USAGE_TYPES)}")
    if not isinstance(usage.get("usageDate"), str):
        raise InvalidRequest("usageDate: the start of the usage is required")
    at = parse_instant(usage["usageDate"])
    if now is not None and at > now + FUTURE_TOLERANCE:
        raise InvalidRequest(f"usageDate: {usage['usageDate']} is in the future")
    chars = characteristics(usage)
    msisdn = chars.get("msisdn")
    if not isinstance(msisdn, str) or not E164.match(msisdn):
        raise InvalidRequest(f"msisdn: '{msisdn}' is not an E.164 number (+353831234567)")
    name, _ = QUANTITY[usage_type]
    default = 1 if usage_type == SMS else None
    quantity = _count(chars.get(name, default), name, minimum=1 if usage_type == SMS else 0)
    country = chars.get("visitedCountry") or HOME_COUNTRY
    if not isinstance(country, str) or not COUNTRY.match(country):
        raise InvalidRequest(f"visitedCountry: '{country}' is not an ISO 3166 alpha-2 code")
    called = chars.get("calledNumber")
    if called is not None and (not isinstance(called, str) or not E164.match(called)):
        raise InvalidRequest(f"calledNumber: '{called}' is not an E.164 number")
    return UsageRecord(usage_type, at, msisdn, quantity, country, called)


def _count(value: Any, name: str, minimum: int) -> int:
    if value is None:
        raise InvalidRequest(f"{name}: missing; this type of usage is rated on it")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{name}: '{value}' is not a whole number")
    if value < minimum:
        raise InvalidRequest(f"{name}: {value} is below {minimum}")
    return value


class UsageRules(Rules):
    """A client sends what happened; rating writes the rest. Only the description of a
    record changes afterwards, except that a rejected record can be sent back to rating
    (status recycled) once its cause is fixed."""

    def __init__(self, clock_now: Any) -> None:
        self._now = clock_now

    def on_create(self, resource: dict[str, Any], lookup: Lookup) -> None:
        given = sorted(SERVER_WRITTEN & resource.keys())
        if given:
            raise InvalidRequest(f"{', '.join(given)}: written by rating, not by clients")
        parse_record(resource, self._now())

    def on_update(self, before: Mapping[str, Any], after: dict[str, Any], lookup: Lookup) -> None:
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        changed -= {"description"}
        if changed == {"status"} and after["status"] == RECYCLED:
            return
        if changed:
            raise InvalidRequest(
                f"{', '.join(sorted(changed))}: a usage record is immutable once received; "
                "only description can change, and a rejected record can be recycled"
            )


def consumption_id(product_id: str, start: datetime) -> str:
    """The id of a product's balance for the period starting at `start`."""
    return f"{product_id}{PERIOD_MARK}{start:%Y%m%dT%H%MZ}"


def usage_resource(
    clock_now: Callable[[], datetime], partner_of: Callable[[], str | None] = lambda: None
) -> ResourceType:
    """The usage resource, its rules reading the time from `clock_now`, its externalId
    filter the partner a request acts for from `partner_of`."""

    def by_external_id(raw: str) -> tuple[Criterion, ...]:
        ids = tuple(usage_id_for(value, partner_of()) for value in raw.split(","))
        return (Criterion("id", "eq", ids),)

    return ResourceType(
        name="Usage",
        api="usageManagement",
        path="usage",
        attributes=frozenset(
            {
                "description",
                "usageDate",
                "usageType",
                "status",
                "statusReason",
                "usageCharacteristic",
                "usageSpecification",
                "relatedParty",
                "ratedProductUsage",
                "externalId",
            }
        ),
        filters={
            "id": AttrType.STRING,
            "status": AttrType.STRING,
            "usageType": AttrType.STRING,
            "usageDate": AttrType.INSTANT,
            "relatedParty.id": AttrType.STRING,
            "ratedProductUsage.productRef.id": AttrType.STRING,
        },
        # the id is derived from the externalId: no index of its own to write per record
        derived_filters={"externalId": by_external_id},
        instant_keys=frozenset({"usageDate", "ratingDate", "startDateTime", "endDateTime"}),
        immutable=frozenset({"@baseType", "externalId", "usageDate", "usageType"}),
        lifecycle=USAGE_LIFECYCLE,
        rules=UsageRules(clock_now),
        # a record that counts (received, rated, billed) stays for revenue assurance
        undeletable_states=frozenset({RECEIVED, GUIDED, RECYCLED, RATED, RERATED, BILLED}),
        work_states=frozenset({RECEIVED, RECYCLED}),
    )


USAGE_SPECIFICATION = ResourceType(
    name="UsageSpecification",
    api="usageManagement",
    path="usageSpecification",
    attributes=frozenset(
        {
            "name",
            "description",
            "isBundle",
            "lastUpdate",
            "lifecycleStatus",
            "version",
            "attachment",
            "constraint",
            "entitySpecRelationship",
            "relatedParty",
            "specCharacteristic",
            "targetEntitySchema",
            "validFor",
        }
    ),
    filters={"id": AttrType.STRING, "name": AttrType.STRING, "lifecycleStatus": AttrType.STRING},
    instant_keys=frozenset({"lastUpdate", "startDateTime", "endDateTime"}),
    server_dates=("lastUpdate",),
)

USAGE_CONSUMPTION = ResourceType(
    name="UsageConsumption",
    api="usageManagement",
    path="usageConsumption",
    attributes=frozenset(
        {
            "product",
            "msisdn",
            "billingAccount",
            "relatedParty",
            "validFor",
            "bucket",
            "outOfBundleCharge",
            "spendCap",
            "barred",
            "alert",
            "lastUsageDate",
        }
    ),
    # Every index is rewritten with each balance change: only the key (the id) and what a
    # self-care app needs (its products' balances; the product id comes from the inventory,
    # e.g. ?msisdn=).
    filters={"id": AttrType.STRING, "product.id": AttrType.STRING},
    keyed_by_id=True,
    instant_keys=frozenset({"startDateTime", "endDateTime", "reachedDate", "lastUsageDate"}),
    event_kinds=frozenset({ev.CREATE, ALERT}),
)

USAGE_BATCH = ResourceType(
    name="UsageBatch",
    api="usageManagement",
    path="usageBatch",
    attributes=frozenset(
        {
            "description",
            "creationDate",
            "completionDate",
            "state",
            "source",
            "total",
            "stored",
            "rated",
            "rejected",
            "duplicate",
            "malformed",
            "error",
        }
    ),
    filters={
        "id": AttrType.STRING,
        "state": AttrType.STRING,
        "source": AttrType.STRING,
        "creationDate": AttrType.INSTANT,
    },
    instant_keys=frozenset({"creationDate", "completionDate"}),
    event_kinds=frozenset({ev.CREATE}),
)
