"""Pushing our drivers' token changes to the CPOs (OCPI 2.2.1 Tokens, Sender interface; ADR 0023).

The eMSP is the Tokens sender: besides answering GETs (ocpi/emsp/server.py) it pushes each new or changed
Token to every CPO's Tokens receiver, `PUT {tokens:RECEIVER}/{country_code}/{party_id}/{uid}?type={type}`
with the whole Token object (OCPI 2.2.1 Tokens, "Receiver Interface": PUT), so a CPO need not wait for its
next pull. Tokens are never deleted in OCPI: an id token deleted here is PUT once more with `valid: false`
and a fresh `last_updated`.

What happens next: `TokenPusher.start()` takes a snapshot of the Token objects of `[emsp] org_id` and
subscribes to `IdTokensChanged`. A change of that organization wakes a background task (never the operator
API's request) that reads the tokens again, PUTs what differs from the snapshot to every REGISTERED CPO
with a `tokens:RECEIVER` endpoint and keeps the new snapshot. One sync runs at a time; changes during it
cause exactly one more. A push that fails is logged (`emsp_token_push_failed`); when the CPO was unreachable
or answered HTTP 5xx it is tried again after `RETRY_DELAYS` (5 s, 30 s, 2 min, then every 10 min) until
it goes through, a newer change of that token replacing it. Tries are kept in memory: after a restart the
CPO's periodic pull of our Tokens sender catches up on new and changed tokens, but not on deleted ones (the
sender no longer lists them; the CPO learns those from the real-time authorization's answer).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any
from urllib.parse import quote

import structlog

from csms.domain.events import EventBus, IdTokensChanged, Order
from ocpi.client import PartnerUnreachable
from ocpi.emsp.role import EmspRole, as_partner
from ocpi.emsp.store import CpoRecord
from ocpi.emsp.tokens import all_tokens, token_object
from ocpi.transport import ocpi_datetime, parse_ocpi_datetime

log = structlog.get_logger("ocpi.emsp.token_push")

TokenKey = tuple[str, str]  # (uid, OCPI token type)
# Seconds before each retry of the pushes that failed (unreachable CPO, HTTP 5xx); the last one repeats
# until they went through, a CPO stopped being registered, or the process stops.
RETRY_DELAYS = (5.0, 30.0, 120.0, 600.0)


class TokenPusher:
    """Pushes the changes of our drivers' tokens to the CPOs' Tokens receivers (see the module docstring).

    Args:
        role: the eMSP role: its config (`org_id`, our party), the CSMS token store, the CPO records and
            the `PartnerClient` the pushes go through.
        events: the bus the operator API publishes `IdTokensChanged` on.
    """

    def __init__(self, role: EmspRole, events: EventBus) -> None:
        self._role = role
        self._events = events
        self._pushed: dict[TokenKey, dict[str, Any]] | None = None  # None until `start` took the snapshot
        self._pending = False
        self._task: asyncio.Task[None] | None = None
        # Per CPO, the Tokens whose push failed for a reason a later try may not meet (unreachable, HTTP 5xx):
        # sent again, before newer changes of the same token replace them, by the retry sync.
        self._unsent: dict[int, dict[TokenKey, dict[str, Any]]] = {}
        self._retry: asyncio.Task[None] | None = None
        self._retries = 0  # retry syncs since one that left nothing unsent
        self.retry_delays = RETRY_DELAYS
        self.syncs = 0  # syncs finished (diagnostics and tests)

    @property
    def unsent(self) -> dict[int, int]:
        """How many Tokens wait to be tried again, per CPO id (diagnostics and tests)."""
        return {cpo_id: len(tokens) for cpo_id, tokens in self._unsent.items()}

    @property
    def busy(self) -> bool:
        """Whether a sync is running or due."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Subscribe to `IdTokensChanged` and take the snapshot later changes are compared with (what the
        CPOs already have: they pull our tokens at registration)."""
        self._events.subscribe(IdTokensChanged, self._changed, order=Order.PUBLISH)
        self._pushed = await self._current()
        if self._pending:  # a change arrived while the snapshot was read
            self._wake()

    async def stop(self) -> None:
        """Unsubscribe and cancel a sync under way (what it did not push, CPOs pull later)."""
        self._events.unsubscribe(IdTokensChanged, self._changed)
        for task in (self._task, self._retry):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._retry = None

    async def wait_idle(self) -> None:
        """Return once no sync is running or due (tests; a sync's failures are logged, never raised)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    # -- trigger -----------------------------------------------------------------------------------------

    async def _changed(self, event: IdTokensChanged) -> None:
        """Note the change of our organization's tokens; the sync runs in the background."""
        if event.org_id != self._role.config.org_id:
            return
        self._pending = True
        if self._pushed is not None:
            self._wake()

    def _wake(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="emsp-token-push")

    async def _run(self) -> None:
        while self._pending:  # a change during a sync causes one more
            self._pending = False
            try:
                await self.sync()
            except Exception:  # e.g. the store is unreachable: the next change tries again
                log.exception("emsp_token_sync_failed")
            self.syncs += 1

    # -- sync --------------------------------------------------------------------------------------------

    async def sync(self) -> None:
        """Push what changed since the snapshot to every REGISTERED CPO with a Tokens receiver, then keep
        the tokens read as the new snapshot."""
        pushed = self._pushed if self._pushed is not None else {}
        current = await self._current()
        now = self._role.clock()
        changes: list[dict[str, Any]] = []
        for key, obj in current.items():
            before = pushed.get(key)
            if before is not None and _content(before) == _content(obj):
                current[key] = before  # what the CPOs have (a later stamp alone is no change)
                continue
            if before is not None and _stamp(obj) <= _stamp(before):
                # Changed but not stamped later (e.g. it expired): a receiver keeping the newest copy
                # (OCPI: last_updated tells which is newer) must not drop it.
                obj = {**obj, "last_updated": ocpi_datetime(now)}
            changes.append(obj)
        for key in pushed.keys() - current.keys():  # deleted: OCPI tokens are only invalidated
            changes.append({**pushed[key], "valid": False, "last_updated": ocpi_datetime(now)})
        self._pushed = current
        if not changes and not any(self._unsent.values()):
            return
        cpos = [c for c in await self._role.store.list_cpos() if c.status == "REGISTERED" and _receiver(c)]
        changed = {(obj["uid"], obj["type"]): obj for obj in changes}
        # What failed before goes first, unless a newer change of the same token replaces it.
        batches = {cpo.id: {**self._unsent.get(cpo.id, {}), **changed} for cpo in cpos}
        unsent = await asyncio.gather(*(self._push(cpo, list(batches[cpo.id].values())) for cpo in cpos))
        self._unsent = {cpo.id: left for cpo, left in zip(cpos, unsent, strict=True) if left}
        if self._unsent:
            self._retry_later()
        else:
            self._retries = 0

    def _retry_later(self) -> None:
        """Run a sync again after the next of `retry_delays` (the last one repeats), to send what failed."""
        if self._retry is not None and not self._retry.done():
            return
        delay = self.retry_delays[min(self._retries, len(self.retry_delays) - 1)]
        self._retries += 1

        async def retry() -> None:
            await asyncio.sleep(delay)
            self._pending = True
            self._wake()

        self._retry = asyncio.create_task(retry(), name="emsp-token-push-retry")

    async def _push(self, cpo: CpoRecord, tokens: list[dict[str, Any]]) -> dict[TokenKey, dict[str, Any]]:
        """PUT each token to one CPO; returns those to try again (an unreachable CPO is given up on for
        this sync: the rest of its tokens are tried again too). A refusal other than HTTP 5xx (the CPO found
        the Token invalid) is logged and not tried again."""
        base = _receiver(cpo).rstrip("/")
        partner = as_partner(cpo)
        unsent: dict[TokenKey, dict[str, Any]] = {}
        for i, token in enumerate(tokens):
            url = "/".join((base, *(quote(token[k], safe="") for k in ("country_code", "party_id", "uid"))))
            try:
                response = await self._role.client.request(
                    partner, "PUT", url, token, params={"type": token["type"]}
                )
            except PartnerUnreachable as exc:
                log.warning(
                    "emsp_token_push_failed",
                    cpo_id=cpo.id,
                    uid=token["uid"],
                    error=str(exc),
                    not_pushed=len(tokens) - i,
                )
                unsent.update((_key(t), t) for t in tokens[i:])
                return unsent
            if response.success:
                log.info("emsp_token_pushed", cpo_id=cpo.id, uid=token["uid"], valid=token["valid"])
                continue
            log.warning(
                "emsp_token_push_failed",
                cpo_id=cpo.id,
                uid=token["uid"],
                http_status=response.http_status,
                status_code=response.status_code,
                error=response.status_message,
            )
            if response.http_status >= 500:
                unsent[_key(token)] = token
        return unsent

    async def _current(self) -> dict[TokenKey, dict[str, Any]]:
        """The Token objects of our organization now, by (uid, type)."""
        role = self._role
        now = role.clock()
        objects = (
            token_object(t, role.config, now) for t in await all_tokens(role.tokens, role.config.org_id)
        )
        return {(o["uid"], o["type"]): o for o in objects}


def _key(token: dict[str, Any]) -> TokenKey:
    return token["uid"], token["type"]


def _receiver(cpo: CpoRecord) -> str:
    """The CPO's Tokens receiver URL ('' when it has none)."""
    return cpo.endpoints.get("tokens:RECEIVER", "")


def _content(obj: dict[str, Any]) -> dict[str, Any]:
    """The Token without its `last_updated`: what a change is judged on."""
    return {k: v for k, v in obj.items() if k != "last_updated"}


def _stamp(obj: dict[str, Any]) -> datetime:
    return parse_ocpi_datetime(obj["last_updated"])
