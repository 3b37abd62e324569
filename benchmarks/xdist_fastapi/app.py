"""A small rental-shop API on the bronze-pagila datakit: what ``benchmarks/xdist.py --suite fastapi`` tests.

FastAPI + SQLModel, shaped like the README's FastAPI recipe: the app's ``get_session`` dependency
is overridden in the tests with dkenv's ``dkenv_session``.  The models are the datakit's own
(``dkenv.load_datakit(...).table_classes``); ``$DKENV_BENCH_DATAKIT`` says where the datakit is.
Ids are given by the database (integer primary keys autoincrement), as in a real app.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from decimal import Decimal

from fastapi import Depends, FastAPI, HTTPException, Response
from sqlalchemy import func, select
from sqlmodel import Field, Session, SQLModel

import dkenv

DATAKIT = os.environ["DKENV_BENCH_DATAKIT"]
MODELS = {c.__name__: c for c in dkenv.load_datakit(DATAKIT).table_classes}
Actor, Film, FilmActor = MODELS["Actor"], MODELS["Film"], MODELS["FilmActor"]
Country, City, Address = MODELS["Country"], MODELS["City"], MODELS["Address"]
Customer, Store, Staff = MODELS["Customer"], MODELS["Store"], MODELS["Staff"]
Inventory, Rental, Payment = MODELS["Inventory"], MODELS["Rental"], MODELS["Payment"]

app = FastAPI()


def get_session() -> Session:  # the app's dependency: its real engine in production
    raise NotImplementedError


SessionDep = Depends(get_session)


class ActorIn(SQLModel):
    first_name: str = Field(max_length=45)
    last_name: str = Field(max_length=45)


class ActorPatch(SQLModel):
    first_name: str | None = None
    last_name: str | None = None


class FilmIn(SQLModel):
    title: str = Field(max_length=255)
    description: str | None = None
    release_year: int | None = None
    rental_rate: Decimal = Decimal("4.99")
    length: int | None = None
    rating: str | None = None


class FilmPatch(SQLModel):
    title: str | None = None
    rental_rate: Decimal | None = None
    rating: str | None = None


class CustomerIn(SQLModel):
    first_name: str
    last_name: str
    email: str | None = None
    store_id: int
    address: str
    district: str
    city: str
    country: str
    phone: str


class StoreIn(SQLModel):
    address: str
    city: str
    country: str
    manager_first_name: str
    manager_last_name: str


class RentalIn(SQLModel):
    inventory_id: int
    customer_id: int
    staff_id: int


def _get(session: Session, model: type, key: int) -> object:
    row = session.get(model, key)
    if row is None:
        raise HTTPException(404, f"{model.__name__} {key} not found")
    return row


def _save(session: Session, *rows: object) -> None:
    session.add_all(rows)
    session.commit()
    for row in rows:
        session.refresh(row)


def _address(session: Session, street: str, district: str, city: str, country: str, phone: str) -> object:
    """The address, with its city and country found or created."""
    found = session.scalar(select(Country).where(Country.country == country))
    if found is None:
        found = Country(country=country)
        _save(session, found)
    town = session.scalar(select(City).where(City.city == city, City.country_id == found.country_id))
    if town is None:
        town = City(city=city, country_id=found.country_id)
        _save(session, town)
    row = Address(address=street, district=district, city_id=town.city_id, phone=phone)
    _save(session, row)
    return row


# Actors ----------------------------------------------------------------------
@app.post("/actors", status_code=201)
def create_actor(body: ActorIn, session: Session = SessionDep) -> Actor:
    actor = Actor(**body.model_dump())
    _save(session, actor)
    return actor


@app.get("/actors")
def list_actors(last_name: str | None = None, limit: int = 50, offset: int = 0,
                session: Session = SessionDep) -> list[Actor]:
    query = select(Actor).order_by(Actor.last_name, Actor.first_name).limit(limit).offset(offset)
    if last_name is not None:
        query = query.where(Actor.last_name == last_name)
    return list(session.scalars(query))


@app.get("/actors/{actor_id}")
def read_actor(actor_id: int, session: Session = SessionDep) -> Actor:
    return _get(session, Actor, actor_id)


@app.patch("/actors/{actor_id}")
def update_actor(actor_id: int, body: ActorPatch, session: Session = SessionDep) -> Actor:
    actor = _get(session, Actor, actor_id)
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(actor, key, value)
    actor.last_update = datetime.now(UTC)
    _save(session, actor)
    return actor


@app.delete("/actors/{actor_id}", status_code=204)
def delete_actor(actor_id: int, session: Session = SessionDep) -> Response:
    session.delete(_get(session, Actor, actor_id))
    session.commit()
    return Response(status_code=204)


# Films and their cast --------------------------------------------------------
@app.post("/films", status_code=201)
def create_film(body: FilmIn, session: Session = SessionDep) -> Film:
    film = Film(language_id=1, **body.model_dump())
    _save(session, film)
    return film


@app.get("/films")
def list_films(rating: str | None = None, max_rate: Decimal | None = None,
               session: Session = SessionDep) -> list[Film]:
    query = select(Film).order_by(Film.title)
    if rating is not None:
        query = query.where(Film.rating == rating)
    if max_rate is not None:
        query = query.where(Film.rental_rate <= max_rate)
    return list(session.scalars(query))


@app.patch("/films/{film_id}")
def update_film(film_id: int, body: FilmPatch, session: Session = SessionDep) -> Film:
    film = _get(session, Film, film_id)
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(film, key, value)
    _save(session, film)
    return film


@app.post("/films/{film_id}/actors/{actor_id}", status_code=201)
def cast_actor(film_id: int, actor_id: int, session: Session = SessionDep) -> dict:
    _get(session, Film, film_id)
    _get(session, Actor, actor_id)
    if session.get(FilmActor, (actor_id, film_id)) is not None:
        raise HTTPException(409, "already in the cast")
    _save(session, FilmActor(film_id=film_id, actor_id=actor_id))
    return {"film_id": film_id, "actor_id": actor_id}


@app.get("/films/{film_id}/actors")
def film_cast(film_id: int, session: Session = SessionDep) -> list[Actor]:
    _get(session, Film, film_id)
    query = (select(Actor).join(FilmActor, FilmActor.actor_id == Actor.actor_id)
             .where(FilmActor.film_id == film_id).order_by(Actor.last_name))
    return list(session.scalars(query))


# Stores, customers, rentals, payments ----------------------------------------
@app.post("/stores", status_code=201)
def create_store(body: StoreIn, session: Session = SessionDep) -> dict:
    address = _address(session, body.address, "-", body.city, body.country, "-")
    store = Store(manager_staff_id=0, address_id=address.address_id)
    _save(session, store)
    manager = Staff(first_name=body.manager_first_name, last_name=body.manager_last_name,
                    address_id=address.address_id, store_id=store.store_id,
                    username=body.manager_first_name.lower()[:16])
    _save(session, manager)
    store.manager_staff_id = manager.staff_id
    _save(session, store)
    return {"store_id": store.store_id, "manager_staff_id": manager.staff_id}


@app.post("/stores/{store_id}/inventory/{film_id}", status_code=201)
def stock_film(store_id: int, film_id: int, session: Session = SessionDep) -> Inventory:
    _get(session, Store, store_id)
    _get(session, Film, film_id)
    item = Inventory(film_id=film_id, store_id=store_id)
    _save(session, item)
    return item


@app.post("/customers", status_code=201)
def create_customer(body: CustomerIn, session: Session = SessionDep) -> Customer:
    _get(session, Store, body.store_id)
    address = _address(session, body.address, body.district, body.city, body.country, body.phone)
    customer = Customer(store_id=body.store_id, first_name=body.first_name, last_name=body.last_name,
                        email=body.email, address_id=address.address_id, active=1,
                        create_date=datetime.now(UTC))
    _save(session, customer)
    return customer


@app.post("/rentals", status_code=201)
def rent(body: RentalIn, session: Session = SessionDep) -> Rental:
    _get(session, Inventory, body.inventory_id)
    _get(session, Customer, body.customer_id)
    out = session.scalar(select(func.count()).select_from(Rental).where(
        Rental.inventory_id == body.inventory_id, Rental.return_date.is_(None)))
    if out:
        raise HTTPException(409, "this copy is out")
    rental = Rental(rental_date=datetime.now(UTC), **body.model_dump())
    _save(session, rental)
    return rental


@app.post("/rentals/{rental_id}/return")
def return_rental(rental_id: int, session: Session = SessionDep) -> Payment:
    rental = _get(session, Rental, rental_id)
    if rental.return_date is not None:
        raise HTTPException(409, "already returned")
    film = session.scalar(select(Film).join(Inventory, Inventory.film_id == Film.film_id)
                          .where(Inventory.inventory_id == rental.inventory_id))
    rental.return_date = datetime.now(UTC)
    payment = Payment(customer_id=rental.customer_id, staff_id=rental.staff_id, rental_id=rental_id,
                      amount=film.rental_rate, payment_date=rental.return_date)
    _save(session, rental, payment)
    return payment


@app.get("/customers/{customer_id}/payments")
def customer_payments(customer_id: int, session: Session = SessionDep) -> dict:
    _get(session, Customer, customer_id)
    count, total = session.execute(select(func.count(), func.coalesce(func.sum(Payment.amount), 0))
                                   .where(Payment.customer_id == customer_id)).one()
    return {"payments": count, "total": str(Decimal(total).quantize(Decimal("0.01")))}
