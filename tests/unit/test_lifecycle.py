import pytest

from domain.customer import CUSTOMER, CUSTOMER_LIFECYCLE
from domain.errors import IllegalTransition, InvalidRequest

STATES = ["Initialized", "Validated", "Approved", "Suspended", "Closed"]
ALLOWED = {
    ("Initialized", "Validated"),
    ("Validated", "Approved"),
    ("Approved", "Suspended"),
    ("Suspended", "Approved"),
    ("Initialized", "Closed"),
    ("Validated", "Closed"),
    ("Approved", "Closed"),
    ("Suspended", "Closed"),
}
FORBIDDEN = sorted(
    (current, target)
    for current in STATES
    for target in STATES
    if current != target and (current, target) not in ALLOWED
)


class TestCustomerLifecycle:
    def test_is_the_lifecycle_of_the_customer_resource(self):
        assert CUSTOMER.lifecycle is CUSTOMER_LIFECYCLE
        assert CUSTOMER_LIFECYCLE.attribute == "status"

    @pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
    def test_allows(self, current, target):
        CUSTOMER_LIFECYCLE.check(current, target)

    @pytest.mark.parametrize(("current", "target"), FORBIDDEN)
    def test_forbids(self, current, target):
        with pytest.raises(IllegalTransition):
            CUSTOMER_LIFECYCLE.check(current, target)

    @pytest.mark.parametrize("state", STATES)
    def test_staying_in_the_same_state_is_no_transition(self, state):
        CUSTOMER_LIFECYCLE.check(state, state)

    @pytest.mark.parametrize("state", ["Validated", "Approved", "Suspended", "Initialized"])
    def test_closed_is_final(self, state):
        with pytest.raises(IllegalTransition, match=r"none \(final state\)"):
            CUSTOMER_LIFECYCLE.check("Closed", state)

    def test_any_open_state_can_be_closed(self):
        for state in STATES[:-1]:
            CUSTOMER_LIFECYCLE.check(state, "Closed")

    def test_the_refusal_lists_the_allowed_next_states(self):
        with pytest.raises(IllegalTransition) as refused:
            CUSTOMER_LIFECYCLE.check("Initialized", "Approved")
        assert refused.value.message == (
            "status: Initialized -> Approved is not allowed; from Initialized: Closed, Validated"
        )

    def test_an_unknown_target_state_is_invalid_not_an_illegal_transition(self):
        with pytest.raises(InvalidRequest, match="'Deleted' is not a known state") as refused:
            CUSTOMER_LIFECYCLE.check("Approved", "Deleted")
        assert not isinstance(refused.value, IllegalTransition)

    def test_a_transition_out_of_an_unknown_stored_state_is_refused(self):
        with pytest.raises(IllegalTransition):
            CUSTOMER_LIFECYCLE.check("Legacy", "Approved")


class TestInitialStates:
    def test_a_new_customer_starts_initialized(self):
        assert CUSTOMER_LIFECYCLE.initial_state(None) == "Initialized"

    @pytest.mark.parametrize("state", ["Initialized", "Validated", "Approved"])
    def test_a_migrated_customer_may_start_further_on(self, state):
        assert CUSTOMER_LIFECYCLE.initial_state(state) == state

    @pytest.mark.parametrize("state", ["Suspended", "Closed", "Nonsense", ""])
    def test_other_starting_states_are_refused_with_the_creatable_ones(self, state):
        with pytest.raises(InvalidRequest) as refused:
            CUSTOMER_LIFECYCLE.initial_state(state)
        assert refused.value.message == (
            "status: a new resource can start in Approved, Initialized, Validated only"
        )
