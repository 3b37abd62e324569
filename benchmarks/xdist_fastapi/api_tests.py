"""API tests of :mod:`app` as a FastAPI + SQLModel project writes them (copied as ``test_api.py``).

Each test gets a fresh bronze-pagila database (dkenv's ``dkenv_session`` behind the app's
``get_session``) and makes the requests a real API test makes: creates rows through POST,
lists and filters through GET, updates or deletes, and asserts on status codes and JSON.
``$DKENV_BENCH_CASES`` cases of each test (4 tests) run per engine.
"""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from app import DATAKIT, app, get_session
from fastapi.testclient import TestClient

CASES = range(int(os.environ.get("DKENV_BENCH_CASES", "25")))
pytestmark = pytest.mark.dkenv(datakits=[DATAKIT])


@pytest.fixture
def client(dkenv_session):
    app.dependency_overrides[get_session] = lambda: dkenv_session
    with TestClient(app) as test_client:
        yield test_client
    app.dependency_overrides.clear()


@pytest.mark.parametrize("case", CASES)
def test_actor_crud(client, case):
    names = [("Penelope", f"Guiness{case}"), ("Nick", f"Wahlberg{case}"), ("Ed", f"Guiness{case}")]
    created = [client.post("/actors", json={"first_name": f, "last_name": last}) for f, last in names]
    assert [r.status_code for r in created] == [201, 201, 201]
    ids = [r.json()["actor_id"] for r in created]
    assert len(set(ids)) == 3

    same_name = client.get("/actors", params={"last_name": f"Guiness{case}"}).json()
    assert [a["first_name"] for a in same_name] == ["Ed", "Penelope"]

    renamed = client.patch(f"/actors/{ids[1]}", json={"last_name": f"Chase{case}"})
    assert renamed.status_code == 200 and renamed.json()["last_name"] == f"Chase{case}"
    assert client.get(f"/actors/{ids[1]}").json()["first_name"] == "Nick"

    assert client.delete(f"/actors/{ids[0]}").status_code == 204
    assert client.get(f"/actors/{ids[0]}").status_code == 404
    assert len(client.get("/actors").json()) == 2
    assert client.get("/actors", params={"limit": 1, "offset": 1}).json()[0]["actor_id"] == ids[2]


@pytest.mark.parametrize("case", CASES)
def test_film_catalogue(client, case):
    films = [{"title": f"Academy Dinosaur {case}", "rating": "PG", "rental_rate": "0.99", "length": 86},
             {"title": f"Ace Goldfinger {case}", "rating": "G", "rental_rate": "4.99", "length": 48},
             {"title": f"Adaptation Holes {case}", "rating": "NC-17", "rental_rate": "2.99"},
             {"title": f"Affair Prejudice {case}", "rating": "G", "release_year": 2006}]
    created = [client.post("/films", json=film) for film in films]
    assert all(r.status_code == 201 for r in created), [r.text for r in created]
    assert created[3].json()["rental_rate"] in ("4.99", 4.99)  # the default

    rated_g = client.get("/films", params={"rating": "G"}).json()
    assert [f["title"] for f in rated_g] == [f"Ace Goldfinger {case}", f"Affair Prejudice {case}"]
    cheap = client.get("/films", params={"max_rate": "3.00"}).json()
    assert {f["title"] for f in cheap} == {f"Academy Dinosaur {case}", f"Adaptation Holes {case}"}

    film_id = created[1].json()["film_id"]
    updated = client.patch(f"/films/{film_id}", json={"rental_rate": "1.99"})
    assert Decimal(str(updated.json()["rental_rate"])) == Decimal("1.99")
    assert len(client.get("/films", params={"max_rate": "3.00"}).json()) == 3

    assert client.post("/films", json={"rating": "PG"}).status_code == 422  # no title
    assert client.patch("/films/999999", json={"rating": "R"}).status_code == 404


@pytest.mark.parametrize("case", CASES)
def test_film_cast(client, case):
    film = client.post("/films", json={"title": f"Chamber Italian {case}"}).json()
    actors = [client.post("/actors", json={"first_name": "A", "last_name": last}).json()
              for last in ("Zellweger", "Berry", "Monroe")]
    for actor in actors:
        response = client.post(f"/films/{film['film_id']}/actors/{actor['actor_id']}")
        assert response.status_code == 201, response.text
    again = client.post(f"/films/{film['film_id']}/actors/{actors[0]['actor_id']}")
    assert again.status_code == 409
    assert client.post(f"/films/{film['film_id']}/actors/999999").status_code == 404

    cast = client.get(f"/films/{film['film_id']}/actors").json()
    assert [a["last_name"] for a in cast] == ["Berry", "Monroe", "Zellweger"]
    assert client.get("/films/999999/actors").status_code == 404


@pytest.mark.parametrize("case", CASES)
def test_rental_and_payment(client, case):
    store = client.post("/stores", json={"address": "47 MySakila Drive", "city": "Lethbridge",
                                         "country": "Canada", "manager_first_name": "Mike",
                                         "manager_last_name": "Hillyer"})
    assert store.status_code == 201, store.text
    store = store.json()
    customer = client.post("/customers", json={
        "first_name": "Mary", "last_name": f"Smith{case}", "email": "mary@example.com",
        "store_id": store["store_id"], "address": "1913 Hanoi Way", "district": "Nagasaki",
        "city": "Sasebo", "country": "Japan", "phone": "28303384290"})
    assert customer.status_code == 201, customer.text
    customer_id = customer.json()["customer_id"]
    film = client.post("/films", json={"title": f"Dinosaur Secretary {case}", "rental_rate": "2.99"}).json()
    copy = client.post(f"/stores/{store['store_id']}/inventory/{film['film_id']}").json()

    rental = {"inventory_id": copy["inventory_id"], "customer_id": customer_id,
              "staff_id": store["manager_staff_id"]}
    first = client.post("/rentals", json=rental)
    assert first.status_code == 201, first.text
    assert client.post("/rentals", json=rental).status_code == 409  # the copy is out

    paid = client.post(f"/rentals/{first.json()['rental_id']}/return")
    assert paid.status_code == 200 and Decimal(str(paid.json()["amount"])) == Decimal("2.99")
    assert client.post("/rentals", json=rental).status_code == 201  # back in, rented again
    assert client.get(f"/customers/{customer_id}/payments").json() == {"payments": 1, "total": "2.99"}
    assert client.get("/customers/999999/payments").status_code == 404
