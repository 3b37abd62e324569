"""Layer 3 with rows: bronze sample data in, a small transform fills silver, and
validate_pipeline_flow checks the schema, the row counts and that no silver row points nowhere.

    python examples/layer3_transform.py                      # in-memory SQLite
    python examples/layer3_transform.py postgres_container   # a throwaway PostgreSQL container
"""

import sys
from pathlib import Path

from sqlalchemy import func, select

import dkenv
from dkenv.data import load_data
from dkenv.datakit import load_datakit

HERE = Path(__file__).resolve().parent
bronze = load_datakit(HERE / "bronze-pagila")
silver = load_datakit(HERE / "silver-pagila")
target = dkenv.get_target_config(sys.argv[1] if len(sys.argv) > 1 else "sqlite_memory")
try:
    dkenv.deploy_data_objects(bronze, target)
    dkenv.deploy_data_objects(silver, target)
    load_data(target, [HERE / "bronze-pagila" / "data" / "sample"], [bronze])

    # The transform: one customer profile per bronze customer, one fact per returned rental.
    b = bronze.metadata.tables
    s = silver.metadata.tables
    customer, payment, rental, inventory = (b[f"br__pagila__public.{n}"] for n in
                                            ("customer", "payment", "rental", "inventory"))
    profile, fact = s["sv__pagila.customer_profile"], s["sv__pagila.rental_fact"]
    paid = (select(payment.c.customer_id, func.sum(payment.c.amount).label("total"))
            .group_by(payment.c.customer_id).subquery())
    profiles = (select(customer.c.customer_id, customer.c.first_name, customer.c.last_name, customer.c.email,
                       func.coalesce(paid.c.total, 0).label("total"))
                .outerjoin(paid, paid.c.customer_id == customer.c.customer_id))
    rental_paid = (select(payment.c.rental_id, func.sum(payment.c.amount).label("amount"))
                   .group_by(payment.c.rental_id).subquery())
    facts = (select(rental.c.rental_id, rental.c.customer_id, inventory.c.film_id, rental.c.rental_date,
                    rental.c.return_date, func.coalesce(rental_paid.c.amount, 0))
             .join(inventory, inventory.c.inventory_id == rental.c.inventory_id)
             .outerjoin(rental_paid, rental_paid.c.rental_id == rental.c.rental_id))
    with dkenv.create_engine_for_target(target).begin() as conn:
        conn.execute(profile.insert(), [
            {"customer_id": r.customer_id, "full_name": f"{r.first_name} {r.last_name}".title(), "email": r.email,
             "tier": "gold" if r.total >= 20 else "silver" if r.total >= 10 else "bronze", "lifetime_value": r.total}
            for r in conn.execute(profiles)])
        conn.execute(fact.insert().from_select(
            ["rental_id", "customer_id", "film_id", "rented_at", "returned_at", "amount_paid"], facts))

    result = dkenv.validate_pipeline_flow(target)
    assert result.success, result
    for table, rows in result.row_counts.items():
        print(f"{table:35} {rows:>5} rows")
finally:
    dkenv.cleanup_test_target(target)
