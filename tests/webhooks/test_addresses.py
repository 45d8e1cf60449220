"""The webhook address guard (`csms.webhooks.addresses`): only public addresses are delivered to unless
`[webhooks] allow_private_addresses`."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from csms.domain.tenancy import DEFAULT_ORG_ID
from csms.domain.webhooks import EVENT_TYPES, DeliveryStatus
from csms.webhooks.addresses import AddressRefused, PublicOnlyResolver, is_public, refuse_literal
from tests.utils import until
from tests.webhooks.conftest import SECRET
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_outbox import FAST, T0, Rig


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # shared address space (carrier-grade NAT)
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
    ],
)
def test_only_globally_routable_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(address) is public


def test_literal_private_hosts_are_refused_and_names_left_to_the_resolver() -> None:
    for url in ("http://127.0.0.1:8080/hook", "https://[::1]/hook", "http://10.0.0.5/x"):
        with pytest.raises(AddressRefused):
            refuse_literal(url)
    refuse_literal("https://93.184.216.34/hook")
    refuse_literal("https://hooks.example.com/hook")  # a name: checked when it is resolved


class FixedResolver(AbstractResolver):
    """Resolves every name to `addresses`."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        return None


async def test_the_resolver_answers_only_public_addresses() -> None:
    """A name resolving to a public and a private address connects to the public one only; one resolving
    to private addresses only (e.g. DNS rebinding to 127.0.0.1) is refused."""
    mixed = await PublicOnlyResolver(FixedResolver("10.0.0.1", "93.184.216.34")).resolve("hooks.example", 443)
    assert [r["host"] for r in mixed] == ["93.184.216.34"]
    with pytest.raises(AddressRefused):
        await PublicOnlyResolver(FixedResolver("127.0.0.1")).resolve("rebind.example", 443)


async def test_a_loopback_receiver_gets_nothing_unless_private_addresses_are_allowed(
    receiver: Receiver,
) -> None:
    """With the default (`allow_private_addresses = false`) a webhook at 127.0.0.1 is never POSTed to: the
    delivery records the refusal and is retried like any failure."""
    rig = Rig(replace(FAST, allow_private_addresses=False))
    await rig.start()
    try:
        webhook = await rig.store.add_webhook(DEFAULT_ORG_ID, receiver.url, EVENT_TYPES, SECRET, T0)
        await rig.session_events()

        def refused() -> bool:
            return any(
                d.attempts >= 2 and d.last_error and "not a public address" in d.last_error
                for d in rig.store.deliveries.values()
            )

        await until(refused)
        assert receiver.received == []
        assert all(d.status is not DeliveryStatus.DELIVERED for d in rig.store.deliveries.values())
        assert webhook.url.startswith("http://127.0.0.1:")
    finally:
        await rig.stop()
