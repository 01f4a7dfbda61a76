"""The simulated network on the real database: requests decided when submitted, answered
after the latency, idempotent by id; the rules of its lines; failures at random.

Time moves through an injected clock, never by sleeping."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.network import SimulatedNetwork
from domain.ports import DONE, FAILED, PENDING, NetworkOutcome, NetworkRequest

T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
LATENCY = timedelta(milliseconds=300)
MSISDN = "+353831000000"
ICCID, IMSI = "8935301000000000015", "272130000000001"
OTHER_ICCID, OTHER_IMSI = "8935301000000000023", "272130000000002"


class Clock:
    def __init__(self) -> None:
        self.moment = T0

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def network(db: Any, clock: Clock) -> SimulatedNetwork:
    return SimulatedNetwork(db, timedelta(0), failure_percent=0, clock=clock)


def activation(request_id: str = "r-activate", iccid: str = ICCID, imsi: str = IMSI) -> Any:
    return NetworkRequest(request_id, "activate", MSISDN, iccid, imsi, ("plan-s",))


def change(request_id: str, action: str, *services: str) -> NetworkRequest:
    return NetworkRequest(request_id, action, MSISDN, services=services)


def submitted(network: SimulatedNetwork, request: NetworkRequest) -> NetworkOutcome:
    network.submit(request)
    return network.outcome(request.id)


class TestSubmit:
    def test_an_activation_provisions_the_line_and_is_done_at_once_without_latency(self, network):
        assert submitted(network, activation()) == NetworkOutcome(DONE)
        assert network.line(MSISDN) == {
            "msisdn": MSISDN,
            "iccid": ICCID,
            "imsi": IMSI,
            "state": "active",
            "services": ["plan-s"],
        }

    def test_the_answer_is_pending_until_the_latency_has_passed(self, db, clock):
        network = SimulatedNetwork(db, LATENCY, failure_percent=0, clock=clock)
        network.submit(activation())

        assert network.outcome("r-activate") == NetworkOutcome(PENDING)
        assert network.line(MSISDN)["state"] == "active"  # decided and applied already
        clock.moment = T0 + LATENCY - timedelta(milliseconds=1)
        assert network.outcome("r-activate") == NetworkOutcome(PENDING)
        clock.moment = T0 + LATENCY
        assert network.outcome("r-activate") == NetworkOutcome(DONE)

    def test_submitting_the_same_request_again_changes_nothing(self, db, network, clock):
        network.submit(activation())
        network.submit(change("r-suspend", "suspend"))
        clock.moment = T0 + timedelta(minutes=5)

        network.submit(change("r-suspend", "suspend"))  # applied again, it would fail
        network.submit(activation())  # applied again, it would make the line active

        assert network.line(MSISDN)["state"] == "suspended"
        assert network.outcome("r-suspend") == NetworkOutcome(DONE)
        assert db["networkRequest"].count_documents({}) == 2
        assert db["networkRequest"].find_one({"_id": "r-suspend"})["submittedAt"] == T0

    def test_the_requests_and_lines_outlive_the_simulator(self, db, network, clock):
        network.submit(activation())

        restarted = SimulatedNetwork(db, LATENCY, failure_percent=100, clock=clock)

        assert restarted.outcome("r-activate") == NetworkOutcome(DONE)
        assert restarted.line(MSISDN)["iccid"] == ICCID

    def test_the_outcome_of_an_unknown_request_is_a_key_error(self, network):
        with pytest.raises(KeyError):
            network.outcome("never-submitted")


class TestLineRules:
    def test_a_number_active_on_one_sim_cannot_be_activated_on_another(self, network):
        network.submit(activation())

        outcome = submitted(network, activation("r-again", OTHER_ICCID, OTHER_IMSI))

        assert outcome == NetworkOutcome(FAILED, f"{MSISDN} is already active on another SIM")
        assert network.line(MSISDN)["iccid"] == ICCID

    def test_activating_again_on_the_same_sim_succeeds(self, network):
        network.submit(activation())

        assert submitted(network, activation("r-again")) == NetworkOutcome(DONE)

    def test_an_activation_needs_a_sim(self, network):
        outcome = submitted(network, NetworkRequest("r-1", "activate", MSISDN, ICCID))

        assert outcome == NetworkOutcome(
            FAILED, f"activation of {MSISDN} needs an ICCID and an IMSI"
        )
        assert network.line(MSISDN) is None

    def test_a_line_is_suspended_resumed_modified_and_deactivated(self, network):
        network.submit(activation())

        assert submitted(network, change("r-2", "suspend")) == NetworkOutcome(DONE)
        assert network.line(MSISDN)["state"] == "suspended"
        assert submitted(network, change("r-3", "resume")) == NetworkOutcome(DONE)
        assert network.line(MSISDN)["state"] == "active"
        assert submitted(network, change("r-4", "modify", "plan-m", "roaming")) == NetworkOutcome(
            DONE
        )
        assert network.line(MSISDN)["services"] == ["plan-m", "roaming"]
        assert submitted(network, change("r-5", "deactivate")) == NetworkOutcome(DONE)
        assert network.line(MSISDN) is None

    def test_only_an_active_line_is_suspended_and_only_a_suspended_one_resumed(self, network):
        network.submit(activation())

        assert submitted(network, change("r-2", "resume")) == NetworkOutcome(
            FAILED, f"cannot resume {MSISDN}: the line is active"
        )
        network.submit(change("r-3", "suspend"))
        assert submitted(network, change("r-4", "suspend")) == NetworkOutcome(
            FAILED, f"cannot suspend {MSISDN}: the line is suspended"
        )
        assert network.line(MSISDN)["state"] == "suspended"

    @pytest.mark.parametrize("action", ["modify", "suspend", "resume", "deactivate"])
    def test_a_change_needs_an_existing_line(self, network, action):
        outcome = submitted(network, change("r-1", action))

        assert outcome == NetworkOutcome(FAILED, f"{MSISDN} has no line on the network")

    def test_a_deactivated_number_can_be_activated_on_another_sim(self, network):
        network.submit(activation())
        network.submit(change("r-2", "deactivate"))

        outcome = submitted(network, activation("r-3", OTHER_ICCID, OTHER_IMSI))

        assert outcome == NetworkOutcome(DONE)
        assert network.line(MSISDN)["iccid"] == OTHER_ICCID


class TestRandomFailures:
    def test_at_one_hundred_percent_every_request_fails_and_changes_nothing(self, db, clock):
        network = SimulatedNetwork(db, timedelta(0), failure_percent=100, clock=clock)

        outcome = submitted(network, activation())

        assert outcome == NetworkOutcome(
            FAILED, f"network rejected the activate of {MSISDN} (simulated failure)"
        )
        assert network.line(MSISDN) is None

    def test_a_seeded_generator_fails_about_the_given_share(self, db, network, clock):
        network.submit(activation())
        flaky = SimulatedNetwork(
            db, timedelta(0), failure_percent=25, clock=clock, rng=random.Random(7)
        )

        outcomes = [submitted(flaky, change(f"r-{n}", "modify")).status for n in range(200)]

        assert 30 <= outcomes.count(FAILED) <= 70
        assert outcomes.count(DONE) == 200 - outcomes.count(FAILED)
