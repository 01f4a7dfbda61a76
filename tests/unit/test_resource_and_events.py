import subprocess
import sys
from pathlib import Path

from domain import events as ev
from domain.customer import CUSTOMER
from domain.query import AttrType
from domain.resource import ResourceType

ROOT = Path(__file__).resolve().parents[2]

PRODUCT_ORDER = ResourceType(
    name="ProductOrder",
    api="productOrderingManagement",
    path="productOrder",
    attributes=frozenset({"state"}),
    filters={"state": AttrType.STRING},
    server_dates=("lastUpdate",),
    create_dates=("orderDate",),
)


class TestResourceTypes:
    def test_the_event_key_is_the_name_in_lower_camel_case(self):
        assert PRODUCT_ORDER.event_key == "productOrder"
        assert CUSTOMER.event_key == "customer"

    def test_event_types_are_named_after_the_resource(self):
        assert PRODUCT_ORDER.event_type(ev.STATE_CHANGE) == "ProductOrderStateChangeEvent"
        assert CUSTOMER.event_type(ev.ATTRIBUTE_VALUE_CHANGE) == (
            "CustomerAttributeValueChangeEvent"
        )

    def test_the_collection_is_the_path(self):
        assert PRODUCT_ORDER.collection == "productOrder"

    def test_server_owned_immutable_and_server_dates_are_not_patchable(self):
        assert PRODUCT_ORDER.not_patchable == {
            "id",
            "href",
            "@baseType",
            "lastUpdate",
            "orderDate",
        }

    def test_customer_status_is_patchable(self):
        assert "status" not in CUSTOMER.not_patchable


class TestEventEnvelopes:
    def test_carry_the_resource_under_its_event_key(self):
        body = ev.envelope("e1", "2026-11-25T10:00:00.000Z", "CustomerCreateEvent", "customer", {})
        assert body == {
            "eventId": "e1",
            "eventTime": "2026-11-25T10:00:00.000Z",
            "eventType": "CustomerCreateEvent",
            "event": {"customer": {}},
        }

    def test_carry_the_field_path_when_given(self):
        body = ev.envelope("e1", "t", "CustomerAttributeValueChangeEvent", "customer", {}, "name")
        assert body["fieldPath"] == "name"

    def test_an_event_exposes_the_id_and_type_of_its_envelope(self):
        event = ev.Event("api", "customer", "42", 1, ev.envelope("e1", "t", "X", "customer", {}))
        assert (event.event_id, event.event_type) == ("e1", "X")


class TestDomainPurity:
    def test_the_domain_imports_no_web_or_database_library(self):
        probe = (
            "import sys, pkgutil, importlib, domain\n"
            "for m in pkgutil.iter_modules(domain.__path__):\n"
            "    importlib.import_module('domain.' + m.name)\n"
            "banned = ('flask', 'connexion', 'pymongo', 'bson', 'mongoengine', 'marshmallow',"
            " 'starlette', 'adapters', 'handlers')\n"
            "print(sorted(n for n in sys.modules if n.split('.')[0] in banned))\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "[]"
