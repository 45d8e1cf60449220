"""Client accounts: create one and rotate its key (what `csms agent client add|rotate` and the operator
API's `/agent-clients` do). The key is returned once and stored only as its bcrypt hash (the FAQ: a lost
key cannot be resent, only replaced); rotating invalidates the old key with the same commit."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from csms.domain.secrets import hash_secret_async
from csms.webhooks.addresses import AddressRefused, refuse_literal
from ocpi.agent.keys import new_client_key
from ocpi.agent.models import AgentClient
from ocpi.agent.store import SqlAgentStore

MAX_RESERVATION_FEE = Decimal(10_000)  # EUR: a bound against typos, far above any real fee
MIN_SECRET, MAX_SECRET = 16, 200  # characters of a webhook secret (agent_clients.webhook_secret)


class AccountError(ValueError):
    """An account field is not acceptable: `field` names it (as the operator API's body does), `reason`
    says why; the message is both."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field.replace('_', ' ')} {reason}")
        self.field = field
        self.reason = reason


def _amount(value: str | Decimal, field: str, high: Decimal, places: int) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise AccountError(field, f"must be a decimal number, not {value!r}") from None
    if not amount.is_finite() or not Decimal(0) <= amount <= high:
        raise AccountError(field, f"must be between 0 and {high}")
    if amount != amount.quantize(Decimal(1).scaleb(-places)):  # never rounded silently
        raise AccountError(field, f"must have at most {places} decimals")
    return amount


async def add_client(
    store: SqlAgentStore,
    *,
    name: str,
    reservation_fee: str | Decimal = "0",
    commission_percent: str | Decimal = "0",
    monthly_quota: int | None = None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    allow_private_addresses: bool = False,
    bcrypt_rounds: int = 12,
) -> tuple[AgentClient, str]:
    """Create a client account; returns (the stored client, its key: shown this once).

    `webhook_secret` signs the webhook's POSTs (`ocpi.agent.webhooks`; without one they are unsigned). A
    webhook URL whose host is a non-public IP literal is refused unless `allow_private_addresses` (`[agent]
    allow_private_webhook_addresses`); a name is checked at each delivery.

    Raises:
        AccountError: a field is out of range.
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise AccountError("name", "must be 1 to 100 characters")
    if monthly_quota is not None and monthly_quota < 0:
        raise AccountError("monthly_quota", "must be 0 or more")
    if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
        raise AccountError("webhook_url", "must be http:// or https://")
    if webhook_url is not None and not allow_private_addresses:
        try:
            refuse_literal(webhook_url)
        except AddressRefused as exc:
            reason = f"{exc} (see [agent] allow_private_webhook_addresses)"
            raise AccountError("webhook_url", reason) from None
    if webhook_secret is not None and not MIN_SECRET <= len(webhook_secret) <= MAX_SECRET:
        raise AccountError("webhook_secret", f"must be {MIN_SECRET} to {MAX_SECRET} characters")
    key, prefix = new_client_key()
    client = AgentClient(
        id=0,
        name=name,
        key_prefix=prefix,
        key_hash=await hash_secret_async(key, bcrypt_rounds),
        reservation_fee=_amount(reservation_fee, "reservation_fee", MAX_RESERVATION_FEE, 2),
        commission_percent=_amount(commission_percent, "commission_percent", Decimal(100), 4),
        monthly_quota=monthly_quota,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
    )
    return await store.add_client(client), key


async def rotate_key(store: SqlAgentStore, client_id: int, *, bcrypt_rounds: int = 12) -> str | None:
    """Give the client a new key; the old one stops working at once. None: no such client."""
    key, prefix = new_client_key()
    if not await store.set_key(client_id, prefix, await hash_secret_async(key, bcrypt_rounds)):
        return None
    return key
