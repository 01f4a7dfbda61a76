BASE = "/tmf-api/customerManagement/v4"


def test_a_created_customer_can_be_read_back(client):
    body = {"name": "Alice", "engagedParty": {"id": "i1", "@referredType": "Individual"}}
    created = client.post(f"{BASE}/customer", json=body)
    assert created.status_code == 201
    read = client.get(f"{BASE}/customer/{created.json()['id']}")
    assert read.status_code == 200
    assert read.json() == created.json()
