"""The order-to-activate journey of an MVNO subscriber, over HTTP."""

from __future__ import annotations

from tests.e2e.ordering_setup import (
    INVENTORY,
    add,
    characteristic,
    fulfil,
    new_customer,
    number_pool,
    order,
    order_body,
    ordering_app,
    place,
    product,
)


def test_the_whole_journey(mongo_uri: str) -> None:
    with ordering_app(mongo_uri) as application, application.test_client() as client:
        customer = new_customer(client)
        placed = place(
            client,
            order_body(
                customer,
                add("1", "pos-sim-only-20gb"),
                add(
                    "2",
                    "pos-eu-roaming-pack",
                    productOrderItemRelationship=[{"id": "1", "relationshipType": "reliesOn"}],
                ),
            ),
        )
        fulfil(application)
        done = order(client, placed["id"])
        assert done["state"] == "completed", done
        line_id = done["productOrderItem"][0]["product"]["id"]
        line = product(client, line_id)
        assert line["status"] == "active"
        msisdn = characteristic(line, "msisdn")
        assert msisdn.startswith("+35383")
        found = client.get(f"{INVENTORY}/product", params={"msisdn": msisdn}).json()
        assert [p["id"] for p in found] == [line_id]
        # change plan
        change = place(
            client,
            order_body(
                customer,
                {
                    "id": "1",
                    "action": "modify",
                    "product": {"id": line_id},
                    "productOffering": {"id": "pos-sim-only-unlimited"},
                },
            ),
        )
        fulfil(application)
        assert order(client, change["id"])["state"] == "completed", order(client, change["id"])
        assert product(client, line_id)["productOffering"]["id"] == "pos-sim-only-unlimited"
        addon = place(
            client,
            order_body(
                customer,
                add(
                    "1",
                    "pos-data-addon-5gb",
                    product={
                        "productRelationship": [
                            {"relationshipType": "reliesOn", "product": {"id": line_id}}
                        ]
                    },
                ),
            ),
        )
        fulfil(application)
        assert order(client, addon["id"])["state"] == "completed", order(client, addon["id"])
        for status in ("suspended", "active"):
            o = place(
                client,
                order_body(
                    customer,
                    {"id": "1", "action": "modify", "product": {"id": line_id, "status": status}},
                ),
            )
            fulfil(application)
            assert order(client, o["id"])["state"] == "completed", order(client, o["id"])
            assert product(client, line_id)["status"] == status
        end = place(
            client,
            order_body(customer, {"id": "1", "action": "delete", "product": {"id": line_id}}),
        )
        fulfil(application)
        assert order(client, end["id"])["state"] == "completed", order(client, end["id"])
        ended = product(client, line_id)
        assert ended["status"] == "terminated" and ended["terminationDate"]
        assert number_pool(application).status_of(msisdn)["status"] == "quarantined"
        addons = client.get(
            f"{INVENTORY}/product", params={"productRelationship.product.id": line_id}
        ).json()
        assert addons and all(a["status"] == "terminated" for a in addons), addons
