"""Pulling eMSPs' token lists (OCPI 2.2.1 Tokens, the eMSP's sender interface: `GET {url}?date_from&date_to
&offset&limit`), so that their tokens work at our stations without waiting for each one to be PUT.

- When: right after a partner registered (either way: `ocpi.credentials` POST, `ocpi.registration`), when
  the bridge starts, and every `[ocpi] token_pull_interval` seconds (0: no periodic pulls), for every
  REGISTERED partner with a tokens SENDER endpoint.
- How: the first GET asks for everything; the pages are followed through the `Link: <...>; rel="next"`
  header (OCPI 2.2.1 "Pagination") until a page has none. Once every page was read, the time the pull
  started is stored for the partner (`OcpiStore.set_tokens_pulled_at`); the next pull asks only for what
  changed since, `date_from` = that time (inclusive on `last_updated`, so a token changed during a pull is
  read again, never missed).
- What is stored: each Token as a PUT to our tokens receiver stores it (`ocpi.tokens.token_from_object`):
  validated against the Token object and owned by one of the partner's parties (country code and party id
  of its credentials or roles). A stored token changed later than the pulled one (a PUT or PATCH that
  arrived meanwhile) is kept. Invalid or foreign tokens are skipped and logged (`ocpi_token_pull_skipped`).
- A failed pull (unreachable, an HTTP or OCPI error, a malformed page) is logged (`ocpi_token_pull_failed`);
  the tokens read so far stay stored and the pull time does not move, so the next pull asks again from
  the same `date_from`.

Several processes or nodes each pull on their own: pulls are idempotent (same tokens, same result).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import structlog

from ocpi.client import PartnerUnreachable, endpoint, next_link
from ocpi.context import OcpiContext
from ocpi.models import Partner, PartnerStatus
from ocpi.objects import problems_of
from ocpi.tokens import TOKEN_FIELDS, partner_parties, token_from_object
from ocpi.transport import ocpi_datetime, parse_ocpi_datetime

log = structlog.get_logger("ocpi.token_pull")

SUCCESS = 1000
# Seconds before each retry of the pull that follows a registration, while it fails (`TokenPuller.schedule`);
# after them the periodic rounds (`[ocpi] token_pull_interval`) take over.
REGISTRATION_RETRY_DELAYS = (0.5, 5.0, 30.0)
MAX_PAGES = 100_000  # a sender whose Link headers never end is cut off here (and the pull counts as failed)


class TokenPullError(Exception):
    """A page could not be read: the pull stops and its time is not stored."""


@dataclass(slots=True)
class PullResult:
    """What one pull of one partner did."""

    stored: int = 0  # tokens stored (new or newer than ours)
    skipped: int = 0  # invalid, foreign, or older than what we have
    pages: int = 0
    complete: bool = False  # every page read: the pull time was stored
    attempted: bool = False  # the partner was asked (it is registered and has a tokens SENDER endpoint)


async def pull_tokens(ctx: OcpiContext, partner: Partner) -> PullResult:
    """Pull the partner's tokens changed since its last complete pull (all of them the first time) and store
    them (see the module docstring). Never raises for the partner's faults: they are logged.

    Returns:
        What was stored and skipped; `complete` False when the partner has no tokens SENDER endpoint or a
        page could not be read.
    """
    result = PullResult()
    url = endpoint(partner, "tokens", "SENDER")
    if url is None or partner.status is not PartnerStatus.REGISTERED:
        return result
    result.attempted = True
    started = ctx.clock()
    since = await ctx.store.tokens_pulled_at(partner.id)
    params = {} if since is None else {"date_from": ocpi_datetime(since)}
    bound = log.bind(partner_id=partner.id, date_from=params.get("date_from"))
    try:
        await _read_pages(ctx, partner, url, params, result)
    except TokenPullError as exc:
        bound.warning("ocpi_token_pull_failed", error=str(exc), stored=result.stored, pages=result.pages)
        return result
    await ctx.store.set_tokens_pulled_at(partner.id, started)
    result.complete = True
    bound.info("ocpi_tokens_pulled", stored=result.stored, skipped=result.skipped, pages=result.pages)
    return result


async def _read_pages(
    ctx: OcpiContext, partner: Partner, url: str, params: dict[str, str], result: PullResult
) -> None:
    """GET the first page with `params`, then each `Link` next URL as given (it carries the filters)."""
    next_url: str | None = url
    query: dict[str, str] | None = params or None
    while next_url is not None:
        if result.pages >= MAX_PAGES:
            raise TokenPullError(f"more than {MAX_PAGES} pages")
        try:
            response = await ctx.partner_client().request(partner, "GET", next_url, params=query)
        except PartnerUnreachable as exc:
            raise TokenPullError(f"unreachable: {exc}") from None
        if not response.success:
            raise TokenPullError(f"HTTP {response.http_status}, OCPI {response.status_code}")
        if not isinstance(response.data, list):
            raise TokenPullError("the page's data is not a list of Tokens")
        result.pages += 1
        for obj in response.data:
            await _store(ctx, partner, obj, result)
        next_url, query = next_link(response.headers.get("Link"), next_url), None


async def _store(ctx: OcpiContext, partner: Partner, obj: Any, result: PullResult) -> None:
    """Store one pulled Token as a PUT would, unless invalid, foreign or older than the stored one."""
    problems = problems_of(obj, TOKEN_FIELDS) if isinstance(obj, dict) else ["not an object"]
    if not problems:
        party = (str(obj["country_code"]).upper(), str(obj["party_id"]).upper())
        if party not in partner_parties(partner):
            problems = [f"party {party[0]}/{party[1]} is not the partner's"]
    if problems:
        result.skipped += 1
        uid = obj.get("uid") if isinstance(obj, dict) else None
        log.warning("ocpi_token_pull_skipped", partner_id=partner.id, uid=uid, problems=problems)
        return
    pulled_at = parse_ocpi_datetime(obj["last_updated"])
    stored = await ctx.store.get_partner_token(obj["country_code"], obj["party_id"], obj["uid"], obj["type"])
    if stored is not None and stored.last_updated is not None and stored.last_updated > pulled_at:
        result.skipped += 1  # a PUT or PATCH newer than this page arrived meanwhile
        return
    await ctx.store.save_partner_token(token_from_object(obj, partner.id))
    result.stored += 1


class TokenPuller:
    """Runs the pulls: at `start()` and every `interval` seconds for every partner, and on `schedule` for
    one (after its registration). One pull per partner at a time. `stop()` cancels what is running (a
    pull cut short stores no pull time, so nothing is lost).

    Args:
        interval: seconds between rounds; 0 or less: only the round at start.
    """

    def __init__(self, ctx: OcpiContext, *, interval: float) -> None:
        self._ctx = ctx
        self._interval = interval
        self._locks: dict[int, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.Task[None] | None = None
        self.retry_delays = REGISTRATION_RETRY_DELAYS

    async def start(self) -> None:
        """Start the periodic rounds (the first at once)."""
        if self._loop is None:
            self._loop = asyncio.create_task(self._run(), name="ocpi-token-pull")

    async def stop(self) -> None:
        """Cancel the rounds and the scheduled pulls, and wait for them."""
        tasks = [*self._tasks, *([self._loop] if self._loop is not None else [])]
        self._loop = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def schedule(self, partner_id: int) -> asyncio.Task[PullResult | None]:
        """Pull one partner's tokens in the background now (after its registration), trying again after
        each of `retry_delays` while the pull fails: the partner may accept the token we call it with only
        once it stored our answer to the credentials exchange, which can come after this first try."""
        task = asyncio.create_task(self._pull_retrying(partner_id), name=f"ocpi-token-pull-{partner_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _pull_retrying(self, partner_id: int) -> PullResult | None:
        result = await self.pull(partner_id)
        for delay in self.retry_delays:
            if result is None or result.complete or not result.attempted:
                break
            await asyncio.sleep(delay)
            result = await self.pull(partner_id)
        return result

    async def pull(self, partner_id: int) -> PullResult | None:
        """Pull one partner's tokens (waiting for a pull of it already running); None when it is unknown."""
        lock = self._locks.setdefault(partner_id, asyncio.Lock())
        async with lock:
            partner = await self._ctx.store.get_partner(partner_id)
            if partner is None:
                return None
            return await pull_tokens(self._ctx, partner)

    async def pull_all(self) -> int:
        """One round: pull every REGISTERED partner with a tokens SENDER endpoint, one after the other.

        Returns:
            How many tokens were stored.
        """
        stored = 0
        for partner in await self._ctx.store.list_partners():
            if partner.status is PartnerStatus.REGISTERED and endpoint(partner, "tokens", "SENDER"):
                result = await self.pull(partner.id)
                stored += result.stored if result is not None else 0
        return stored

    async def _run(self) -> None:
        while True:
            try:
                await self.pull_all()
            except Exception:  # the store failed: try again next round
                log.exception("ocpi_token_pull_round_failed")
            if self._interval <= 0:
                return
            await asyncio.sleep(self._interval)


def install(ctx: OcpiContext) -> TokenPuller:
    """Create the puller (`[ocpi] token_pull_interval`) and set `ctx.token_puller`; calling it again returns
    the installed one. Call `start()` once `ctx.client` is set and `stop()` on shutdown."""
    if isinstance(ctx.token_puller, TokenPuller):
        return ctx.token_puller
    puller = TokenPuller(ctx, interval=ctx.config.token_pull_interval)
    ctx.token_puller = puller
    return puller


def after_registration(ctx: OcpiContext, partner_id: int) -> None:
    """Pull a partner's tokens in the background once it registered (nothing without an installed
    puller)."""
    if isinstance(ctx.token_puller, TokenPuller):
        ctx.token_puller.schedule(partner_id)
