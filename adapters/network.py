"""The Network port as a simulator of the HLR/HSS and OSS, kept in MongoDB so that, like a
real external system, it remembers its lines and pending answers across restarts.

`networkLine` is the network's view: one line per provisioned MSISDN. `networkRequest`
holds each request as submitted, with its outcome: decided, and the line changed, when the
request arrives (in one transaction, so a request is applied exactly once), but answered only
`latency` later.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
from datetime import timedelta
from typing import Any

import pymongo.errors
from pymongo.client_session import ClientSession
from pymongo.database import Database

from adapters.clock import SystemClock
from adapters.mongo import in_transaction
from domain.ports import DONE, FAILED, PENDING, Clock, NetworkOutcome, NetworkRequest

REQUESTS, LINES = "networkRequest", "networkLine"
ACTIVE, SUSPENDED = "active", "suspended"


class _Refused(Exception):
    """The network turns the request down; the message says why."""


class SimulatedNetwork:
    def __init__(
        self,
        db: Database,
        latency: timedelta,
        failure_percent: int,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._db = db
        self.latency = latency
        self.failure_percent = failure_percent  # of valid requests, rejected at random
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()

    def submit(self, request: NetworkRequest) -> None:
        # DuplicateKeyError: submitted before, and decided and applied then
        with contextlib.suppress(pymongo.errors.DuplicateKeyError):
            in_transaction(self._db, lambda session: self._apply(request, session))

    def outcome(self, request_id: str) -> NetworkOutcome:
        found = self._db[REQUESTS].find_one({"_id": request_id})
        if found is None:
            raise KeyError(request_id)
        if self._clock.now() < found["answerAt"]:
            return NetworkOutcome(PENDING)
        return NetworkOutcome(found["outcome"], found["reason"])

    def line(self, msisdn: str) -> dict[str, Any] | None:
        """The network's view of a number: iccid, imsi, state, services; None when it has
        no line."""
        found = self._db[LINES].find_one({"_id": msisdn}, {"updatedAt": 0})
        return None if found is None else {"msisdn": found.pop("_id"), **found}

    def _apply(self, request: NetworkRequest, session: ClientSession) -> None:
        """Record the request with its outcome (DuplicateKeyError when recorded before), and
        change the line when it succeeds."""
        now = self._clock.now()
        lines = self._db[LINES]
        line = lines.find_one({"_id": request.msisdn}, {"updatedAt": 0}, session=session)
        reason, after = None, line
        try:
            after = _line_after(request, line)
            self._fail_at_random(request)
        except _Refused as refused:
            reason = str(refused)
        fields = {k: v for k, v in dataclasses.asdict(request).items() if k != "id"}
        self._db[REQUESTS].insert_one(
            {
                "_id": request.id,
                **fields,
                "services": list(request.services),
                "submittedAt": now,
                "answerAt": now + self.latency,
                "outcome": FAILED if reason else DONE,
                "reason": reason,
            },
            session=session,
        )
        if reason:
            return
        if after is None:
            lines.delete_one({"_id": request.msisdn}, session=session)
        else:
            after["updatedAt"] = now
            lines.replace_one({"_id": request.msisdn}, after, upsert=True, session=session)

    def _fail_at_random(self, request: NetworkRequest) -> None:
        if self._rng.randrange(100) < self.failure_percent:
            raise _Refused(
                f"network rejected the {request.action} of {request.msisdn} (simulated failure)"
            )


def _line_after(request: NetworkRequest, line: dict[str, Any] | None) -> dict[str, Any] | None:
    """The line once the request is carried out (None: removed); raises _Refused when the
    network's rules forbid it."""
    action, msisdn = request.action, request.msisdn
    services = list(request.services)
    if action == "activate":
        if not (request.iccid and request.imsi):
            raise _Refused(f"activation of {msisdn} needs an ICCID and an IMSI")
        if line is not None and line["iccid"] != request.iccid:
            raise _Refused(f"{msisdn} is already active on another SIM")
        return {"iccid": request.iccid, "imsi": request.imsi, "state": ACTIVE, "services": services}
    if action not in ("modify", "suspend", "resume", "deactivate"):
        raise _Refused(f"the network does not know the action '{action}'")
    if line is None:
        raise _Refused(f"{msisdn} has no line on the network")
    if action == "modify":
        return {**line, "services": services}
    if action == "deactivate":
        return None
    before, after = (ACTIVE, SUSPENDED) if action == "suspend" else (SUSPENDED, ACTIVE)
    if line["state"] != before:
        raise _Refused(f"cannot {action} {msisdn}: the line is {line['state']}")
    return {**line, "state": after}
