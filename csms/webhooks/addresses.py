"""Which addresses webhook deliveries may reach: public ones only, unless `[webhooks]
allow_private_addresses` (a development set-up, or receivers inside the operator's own network).

A webhook URL is chosen by an organization's admin, so without this guard any tenant could make the CSMS
POST to the services beside it (the database, Redis, a cloud metadata endpoint: server-side request
forgery). The check is made on the addresses the connection actually uses: a literal IP in the URL before
the request, and every name through `PublicOnlyResolver`, which aiohttp asks for the addresses it then
connects to, so a name that resolves to a public address when the webhook is created and to a private one
later (DNS rebinding) is refused too.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL


class AddressRefused(OSError):
    """The webhook's host is (or resolves only to) a non-public address."""


def is_public(address: str) -> bool:
    """Whether `address` (an IPv4 or IPv6 literal) is globally routable: not loopback, private, link-local,
    shared (100.64.0.0/10), reserved, multicast or unspecified."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def refuse_literal(url: str) -> None:
    """Raise AddressRefused when `url`'s host is an IP literal that is not public (aiohttp connects to a
    literal without asking the resolver). Names are left to `PublicOnlyResolver`."""
    host = URL(url).host
    if host is None:
        raise AddressRefused(f"no host in {url!r}")
    try:
        public = is_public(host)
    except ValueError:  # a name, not an address
        return
    if not public:
        raise AddressRefused(f"{host} is not a public address")


class PublicOnlyResolver(AbstractResolver):
    """aiohttp resolver that answers only the public addresses of a name; AddressRefused when none is."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The public addresses of `host` (in the inner resolver's order)."""
        resolved = await self._inner.resolve(host, port, family)
        public = [r for r in resolved if is_public(r["host"])]
        if not public:
            raise AddressRefused(f"{host} resolves to no public address")
        return public

    async def close(self) -> None:
        await self._inner.close()


def connector_options(allow_private: bool) -> dict[str, Any]:
    """Keyword arguments for the delivery session's `aiohttp.TCPConnector`."""
    return {} if allow_private else {"resolver": PublicOnlyResolver()}
