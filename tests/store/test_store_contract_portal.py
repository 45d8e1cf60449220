"""The `PortalStore` contract (site owners, documents, drivers, disputes) and the `id_tokens` filter of
`list_transactions` on every backend (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from csms.domain.identity import InvitationStatus
from csms.domain.models import NewTransaction
from csms.domain.portal import Dispute, DisputeStatus, Driver, SiteOwner, SiteOwnerDocument
from csms.domain.ports import NotFound, Store
from csms.domain.tenancy import DEFAULT_ORG_ID

from .conftest import T0


async def test_site_owners_round_trip_and_are_accepted_once(store: Store) -> None:
    """A site owner comes back with every field (Decimal share, JSON profile, bank details, locations); found
    by token digest and, once accepted, by user; accepted once; documents listed by site owner."""
    user = await store.add_user("so@example.com", "So", "hash")
    owner = await store.add_site_owner(
        SiteOwner(
            0,
            DEFAULT_ORG_ID,
            "so@example.com",
            "Site BV",
            "d" * 64,
            T0 + timedelta(hours=72),
            revenue_share_percent=Decimal("12.5"),
        )  # fmt: skip
    )
    assert owner.id > 0 and owner.status is InvitationStatus.PENDING and owner.created_at == T0
    assert await store.find_site_owner(token_digest="d" * 64) == owner
    assert await store.find_site_owner(user_id=user.id) is None
    assert await store.accept_site_owner(owner.id, user.id, T0)
    assert not await store.accept_site_owner(owner.id, user.id, T0)
    owner = await store.find_site_owner(user_id=user.id)  # type: ignore[assignment]
    assert owner is not None and owner.status is InvitationStatus.ACCEPTED and owner.accepted_at == T0
    owner.profile = {"city": "Gent", "country": "BE"}
    owner.bank_details = {"account_holder": "Site BV", "iban": "NL91ABNA0417164300"}
    owner.location_ids = ("LOC1", "LOC2")
    owner.revenue_share_percent = Decimal("20")
    owner.submitted_at = T0
    await store.save_site_owner(owner)
    assert await store.get_site_owner(owner.id) == owner
    assert [o.id for o in await store.list_site_owners(DEFAULT_ORG_ID)] == [owner.id]
    assert await store.list_site_owners("other") == []
    doc = await store.add_site_owner_document(SiteOwnerDocument(0, owner.id, "a", "contract", "QQ==", 1))
    assert doc.created_at == T0 and await store.list_site_owner_documents(owner.id) == [doc]
    assert await store.list_site_owner_documents(owner.id + 1) == []
    owner.id = 999_999
    with pytest.raises(NotFound):
        await store.save_site_owner(owner)


async def test_drivers_and_disputes_round_trip(store: Store) -> None:
    """A driver's id tokens round-trip and are replaced; a dispute moves only from the status it is
    expected in; disputes list newest first, by status."""
    user = await store.add_user("d@example.com", "D", "hash")
    driver = await store.add_driver(
        Driver(0, DEFAULT_ORG_ID, "d@example.com", "D", ("T1", "T2"), "e" * 64, T0 + timedelta(hours=1))
    )
    assert await store.find_driver(token_digest="e" * 64) == driver
    assert await store.accept_driver(driver.id, user.id, T0) and not await store.accept_driver(
        driver.id, 1, T0
    )
    driver.id_tokens = ("T3",)
    await store.save_driver(driver)
    found = await store.find_driver(user_id=user.id)
    assert found is not None and found.id_tokens == ("T3",) and found.status is InvitationStatus.ACCEPTED
    assert [d.id for d in await store.list_drivers(DEFAULT_ORG_ID)] == [driver.id]
    first = await store.add_dispute(Dispute(0, DEFAULT_ORG_ID, 7, driver.id, "why", Decimal("1.70")))
    second = await store.add_dispute(Dispute(0, DEFAULT_ORG_ID, 8, driver.id, "how", Decimal("0")))
    assert first.expected_cost == Decimal("1.70") and first.created_at == first.updated_at == T0
    assert [d.id for d in await store.list_disputes(DEFAULT_ORG_ID)] == [second.id, first.id]
    first.status, first.resolution, first.credit_cdr_id = DisputeStatus.UNDER_REVIEW, "looking", "7-C"
    assert await store.save_dispute(first, DisputeStatus.OPEN)
    assert not await store.save_dispute(first, DisputeStatus.OPEN)  # it is under review now
    assert await store.get_dispute(first.id) == first
    assert [d.id for d in await store.list_disputes(DEFAULT_ORG_ID, DisputeStatus.OPEN)] == [second.id]


async def test_transactions_are_listed_by_id_token(store: Store) -> None:
    """`list_transactions(id_tokens=...)` keeps only those tokens' transactions; an empty list keeps none."""
    for i, token in enumerate(("A", "B", "A", None)):
        await store.add_transaction(
            NewTransaction(
                charge_point_id="CP",
                evse_id=1,
                connector_id=1,
                ocpp_transaction_id=f"t{i}",
                started_at=T0 + timedelta(minutes=i),
                id_token=token,
            )  # fmt: skip
        )
    page, _ = await store.list_transactions(limit=10, id_tokens=["A"])
    assert [tx.ocpp_transaction_id for tx in page] == ["t2", "t0"]
    assert (await store.list_transactions(limit=10, id_tokens=[]))[0] == []
