"""The `csms` command line: run the server, upgrade the database, manage charge points, id tokens, API keys
and organizations.

Every command reads the configuration (`--config`, default `config.toml`, overridden by `CSMS_<SECTION>_<KEY>`
environment variables), opens the store, does its work and closes it again. Exit codes: 0 success, 1 the
operation failed (duplicate, database unreachable), 2 bad usage or input. Results go to stdout as plain
lines, or as JSON with `--json`; errors go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import orjson
import structlog
from pydantic import BaseModel, ValidationError

from csms.api.org_models import OrganizationBody
from csms.api.organizations import organization_json
from csms.api.schemas import ChargePointCreate, IdTokenCreate, IdTokenType
from csms.api.serialize import JsonObject, charge_point_json, id_token_json, timestamp
from csms.config import Config, ConfigError, LogConfig, load_config
from csms.domain.clock import utcnow
from csms.domain.identity import Organization, new_organization_id
from csms.domain.models import RegistrationStatus, TokenStatus
from csms.domain.ports import AlreadyExists, Store
from csms.domain.secrets import hash_secret_async, new_api_key
from csms.domain.tenancy import DEFAULT_ORG_ID
from csms.logging import configure_logging
from ocpi.admin_api.serialize import ocpi_partner_json

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

API_KEY_ROLES = ("admin", "member", "viewer")
_LIST_PAGE = 500

ModelT = TypeVar("ModelT", bound=BaseModel)
T = TypeVar("T")

Command = Callable[[Config, argparse.Namespace], Coroutine[Any, Any, int]]


class CommandError(Exception):
    """A command failed in a way the operator can fix; the message goes to stderr."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _stderr_logger(*args: Any) -> structlog.PrintLogger:
    return structlog.PrintLogger(sys.stderr)


def configure_cli_logging(config: LogConfig) -> None:
    """Log like the server (`csms.logging`), but only warnings and errors unless the level is `debug`.

    stdout carries the command's result, so logs go to stderr; the logger is looked up on every call and
    never cached, so running `main` inside another process (tests) leaves no logger bound to a stream that
    is later closed.
    """
    level = "debug" if config.level.lower() == "debug" else "warning"
    if config.level.lower() in ("error", "critical"):
        level = config.level
    configure_logging(LogConfig(level=level, format=config.format))
    structlog.configure(logger_factory=_stderr_logger, cache_logger_on_first_use=False)


def _print_json(data: Any) -> None:
    print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def _validate(model: type[ModelT], args: argparse.Namespace, **options: str) -> ModelT:
    """`model` from the command line: each field from the option of its name, or the one `options` maps it
    to (`expiry_date="expiry"`); options not given are left out, so the model's defaults apply.

    Raises:
        CommandError: the model refused the input (exit status 2, each field's problem named).
    """
    fields = {name: getattr(args, options.get(name, name), None) for name in model.model_fields}
    try:
        return model.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'input'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise CommandError(f"invalid input: {problems}", EXIT_USAGE) from None


@asynccontextmanager
async def _open(config: Config) -> AsyncIterator[Store]:
    # Imported here so `csms --help` and argument errors do not load SQLAlchemy.
    from sqlalchemy.engine import make_url

    from csms.store.sql import open_store

    try:
        store = await open_store(config.database)
    except Exception as exc:
        try:
            where = make_url(config.database.url).render_as_string(hide_password=True)
        except Exception:  # an unparsable URL: the error itself says what is wrong
            where = "(database.url)"
        raise CommandError(f"cannot open database {where}: {exc}") from exc
    try:
        yield store
    finally:
        await store.close()


def _offline_charge_point_json(data: JsonObject) -> JsonObject:
    # The CLI cannot see the server's live connections, so it does not pretend to know them.
    data.pop("connected", None)
    data.pop("connected_at", None)
    return data


async def cmd_db_upgrade(config: Config, args: argparse.Namespace) -> int:
    """`csms db upgrade`: create or migrate the schema (opening the store runs the migrations)."""
    async with _open(config):
        pass
    print("database is up to date")
    return EXIT_OK


async def cmd_chargepoint_add(config: Config, args: argparse.Namespace) -> int:
    """`csms chargepoint add ID [--password P] [--status S] [--org ORG_ID] [--security-profile 1|2|3]`:
    register a charge point in organization ORG_ID (default: the default organization)."""
    body = _validate(ChargePointCreate, args, registration_status="status")
    async with _open(config) as store:
        if await store.get_charge_point(body.charge_point_id) is not None:
            raise CommandError(f"charge point {body.charge_point_id!r} already exists")
        password_hash = None
        if body.password is not None:
            password_hash = await hash_secret_async(body.password, config.security.bcrypt_rounds)
        try:
            new = replace(body.to_charge_point(password_hash, utcnow()), org_id=args.org)
            stored = await store.add_charge_point(new)
        except AlreadyExists:
            raise CommandError(f"charge point {body.charge_point_id!r} already exists") from None
    if args.json:
        _print_json(_offline_charge_point_json(charge_point_json(stored, [], None)))
    else:
        print(f"added charge point {stored.charge_point_id} ({stored.registration_status})")
    return EXIT_OK


async def cmd_chargepoint_set(config: Config, args: argparse.Namespace) -> int:
    """`csms chargepoint set ID [--status S] [--password P] [--security-profile N]`: accept a Pending
    charge point, reject one, change its password or its security profile. The new status is answered at
    its next BootNotification; a new profile applies from its next connection."""
    if args.status is None and args.password is None and args.security_profile is None:
        raise CommandError("nothing to change: give --status, --password and/or --security-profile")
    body = _validate(ChargePointCreate, args, registration_status="status")
    async with _open(config) as store:
        cp = await store.get_charge_point(body.charge_point_id)
        if cp is None:
            raise CommandError(f"charge point {body.charge_point_id!r} does not exist")
        if args.status is not None:
            cp.registration_status = RegistrationStatus(args.status)
        if body.password is not None:
            cp.password_hash = await hash_secret_async(body.password, config.security.bcrypt_rounds)
        if args.security_profile is not None:
            cp.security_profile = body.security_profile
        await store.update_charge_point(cp)
    print(f"updated charge point {cp.charge_point_id} ({cp.registration_status})")
    return EXIT_OK


async def _every(list_page: Callable[..., Awaitable[tuple[list[T], str | None]]]) -> list[T]:
    """Every item of a paginated store listing, page after page."""
    items: list[T] = []
    cursor: str | None = None
    while True:
        page, cursor = await list_page(limit=_LIST_PAGE, cursor=cursor)
        items.extend(page)
        if cursor is None:
            return items


async def cmd_chargepoint_list(config: Config, args: argparse.Namespace) -> int:
    """`csms chargepoint list`: every charge point, ordered by id (tab-separated, or `--json`)."""
    items: list[JsonObject] = []
    async with _open(config) as store:
        for cp in await _every(store.list_charge_points):
            connectors = await store.list_connectors(cp.charge_point_id)
            items.append(_offline_charge_point_json(charge_point_json(cp, connectors, None)))
    if args.json:
        _print_json(items)
        return EXIT_OK
    for item in items:
        boot = item["boot"]
        model = " ".join(x for x in (boot["vendor"], boot["model"]) if x) or "-"
        print(
            "\t".join(
                [
                    item["charge_point_id"],
                    item["registration_status"],
                    item["ocpp_version"] or "-",
                    model,
                    item["last_boot_at"] or "-",
                ]
            )
        )
    return EXIT_OK


async def cmd_token_add(config: Config, args: argparse.Namespace) -> int:
    """`csms token add TOKEN [--type T] [--status S] [--expiry ISO] [--group G]`: register an id token."""
    body = _validate(IdTokenCreate, args, expiry_date="expiry", group_id_token="group")
    async with _open(config) as store:
        try:
            stored = await store.add_id_token(body.to_id_token(utcnow()))
        except AlreadyExists:
            raise CommandError(f"id token {body.id_token!r} already exists") from None
    if args.json:
        _print_json(id_token_json(stored))
    else:
        print(f"added id token {stored.id_token} ({stored.type}, {stored.status})")
    return EXIT_OK


async def cmd_token_list(config: Config, args: argparse.Namespace) -> int:
    """`csms token list`: every id token, ordered by id (tab-separated, or `--json`)."""
    async with _open(config) as store:
        items = [id_token_json(t) for t in await _every(store.list_id_tokens)]
    if args.json:
        _print_json(items)
        return EXIT_OK
    for item in items:
        fields = [item["id_token"], item["type"], item["status"], item["expiry_date"], item["group_id_token"]]
        print("\t".join(f or "-" for f in fields))
    return EXIT_OK


async def cmd_apikey_create(config: Config, args: argparse.Namespace) -> int:
    """`csms apikey create --name N [--role R] [--org ORG_ID]`: print a new API key once; only its bcrypt hash
    is stored. The key belongs to the default organization unless `--org` names another (exit 1 if unknown).
    """
    name = args.name.strip()
    if not name or len(name) > 100:
        raise CommandError("invalid input: --name must be 1 to 100 characters", EXIT_USAGE)
    key, prefix = new_api_key()
    key_hash = await hash_secret_async(key, config.security.bcrypt_rounds)
    async with _open(config) as store:
        if await store.get_organization(args.org) is None:
            raise CommandError(f"organization {args.org!r} not found (see `csms org list`)")
        try:
            api_key = await store.add_api_key(name, prefix, key_hash, args.role, args.org)
        except AlreadyExists:  # two random 32-bit prefixes collided; nothing was stored
            raise CommandError("generated key prefix already in use; run the command again") from None
    if args.json:
        _print_json(
            {
                "id": api_key.id,
                "name": api_key.name,
                "role": api_key.role,
                "org_id": api_key.org_id,
                "prefix": api_key.prefix,
                "created_at": timestamp(api_key.created_at),
                "key": key,
            }
        )
    else:
        print(key)
    print("Store this key now: it cannot be shown again.", file=sys.stderr)
    return EXIT_OK


async def cmd_org_create(config: Config, args: argparse.Namespace) -> int:
    """`csms org create NAME --country CC --email E`: create an organization and print its id alone (or the
    organization as JSON with `--json`); exit 2 for an unknown country code or a malformed email."""
    body = _validate(OrganizationBody, args, contact_email="email")
    org = Organization(new_organization_id(), body.name, body.country, body.contact_email)
    async with _open(config) as store:
        stored = await store.add_organization(org)
    if args.json:
        _print_json(organization_json(stored))
    else:
        print(stored.id)
    return EXIT_OK


async def cmd_org_list(config: Config, args: argparse.Namespace) -> int:
    """`csms org list`: every organization, oldest first: id, name and country tab-separated (or `--json`)."""
    async with _open(config) as store:
        orgs = await store.list_organizations()
    if args.json:
        _print_json([organization_json(o) for o in orgs])
        return EXIT_OK
    for org in orgs:
        print(f"{org.id}\t{org.name}\t{org.country}")
    return EXIT_OK


# -- csms ocpi ... ------------------------------------------------------------------------------------


@asynccontextmanager
async def _open_ocpi(config: Config, *, client: bool = False) -> AsyncIterator[Any]:
    """An `ocpi.context.OcpiContext` on the configured database (and, with `client`, a `PartnerClient` on
    its own aiohttp session), closed again on exit."""
    import aiohttp

    from csms.domain.core import Domain
    from csms.domain.services import Services
    from csms.store.writer import BatchedWriter
    from ocpi.client import PartnerClient
    from ocpi.context import OcpiContext
    from ocpi.partners import public_base_url
    from ocpi.store.sql import SqlOcpiStore

    async with _open(config) as store:
        # The domain is only wired, never started: these commands touch OCPI records alone.
        domain = Domain(Services(config=config, store=store, writer=BatchedWriter(store)))
        ctx = OcpiContext(
            domain=domain,
            store=SqlOcpiStore(store.engine),  # type: ignore[attr-defined]
            config=config.ocpi,
            base_url=public_base_url(config),
        )
        if not client:
            yield ctx
            return
        async with aiohttp.ClientSession() as session:
            ctx.client = PartnerClient(session, config.ocpi)
            yield ctx


def _warn_unreachable_url(config: Config) -> None:
    if not config.ocpi.public_url and config.http.host in ("0.0.0.0", "::", ""):
        print(
            f"warning: http.host is {config.http.host!r}, which partners cannot use; set [ocpi] public_url",
            file=sys.stderr,
        )


async def cmd_ocpi_partner_add(config: Config, args: argparse.Namespace) -> int:
    """`csms ocpi partner add --name N --country-code CC --party-id PID [--role R]`: issue a token A.

    Prints the token A (once: only its hash is stored) and our versions URL; the partner registers with them
    (OCPI 2.2.1 Credentials: registration).
    """
    from ocpi.partners import issue_partner, validate_party

    try:
        validate_party(args.country_code, args.party_id, args.role)
    except ValueError as exc:
        raise CommandError(f"invalid input: {exc}", EXIT_USAGE) from None
    async with _open_ocpi(config) as ctx:
        try:
            partner, token_a = await issue_partner(
                ctx, name=args.name, country_code=args.country_code, party_id=args.party_id, role=args.role
            )
        except ValueError as exc:
            raise CommandError(f"invalid input: {exc}", EXIT_USAGE) from None
        versions_url = ctx.versions_url
    if args.json:
        _print_json({**ocpi_partner_json(partner), "token_a": token_a, "our_versions_url": versions_url})
    else:
        print(f"token A: {token_a}")
        print(f"versions URL: {versions_url}")
    print(
        f"Partner {partner.id} ({partner.country_code}/{partner.party_id}) is pending. Give it both values; "
        "the token cannot be shown again.",
        file=sys.stderr,
    )
    _warn_unreachable_url(config)
    return EXIT_OK


async def cmd_ocpi_partner_register(config: Config, args: argparse.Namespace) -> int:
    """`csms ocpi partner register URL TOKEN_A [--name N]`: register with a partner's OCPI 2.2.1 endpoint.

    The running CSMS must be reachable at our versions URL: the partner calls it back during the handshake.
    """
    from ocpi.registration import RegistrationError, register_with

    _warn_unreachable_url(config)
    async with _open_ocpi(config, client=True) as ctx:
        try:
            partner = await register_with(ctx, args.url, args.token_a, name=args.name)
        except RegistrationError as exc:
            code = f" (OCPI status {exc.status_code})" if exc.status_code is not None else ""
            raise CommandError(f"registration with {args.url} failed{code}: {exc.message}") from None
    if args.json:
        _print_json(ocpi_partner_json(partner))
    else:
        print(
            f"registered with partner {partner.id} {partner.name} "
            f"({partner.country_code}/{partner.party_id} {partner.role}), "
            f"{len(partner.endpoints)} endpoints"
        )
    return EXIT_OK


async def cmd_ocpi_partner_list(config: Config, args: argparse.Namespace) -> int:
    """`csms ocpi partner list`: every partner by id (tab-separated, or `--json`); tokens are never shown."""
    async with _open_ocpi(config) as ctx:
        items = [ocpi_partner_json(p) for p in await ctx.store.list_partners()]
    if args.json:
        _print_json(items)
        return EXIT_OK
    for item in items:
        fields = [
            str(item["id"]),
            item["status"],
            f"{item['country_code'] or '-'}/{item['party_id'] or '-'}",
            item["role"],
            item["name"],
            item["versions_url"] or "-",
        ]
        print("\t".join(fields))
    return EXIT_OK


# -- csms emsp ... -----------------------------------------------------------------------------------


@asynccontextmanager
async def _emsp_role(config: Config) -> AsyncIterator[Any]:
    """Our eMSP role over the CSMS database, knowing its URL (`[ocpi] public_url` + /emsp/ocpi)."""
    import aiohttp

    from ocpi.emsp.role import EmspRole
    from ocpi.emsp.sql_store import SqlEmspStore
    from ocpi.partners import public_base_url

    async with _open(config) as store, aiohttp.ClientSession() as session:
        role = EmspRole(config.emsp, SqlEmspStore(store.engine), store, session)  # type: ignore[attr-defined]
        role.base_url = public_base_url(config) + "/emsp/ocpi"
        yield role


def _cpo_terms(args: argparse.Namespace) -> dict[str, Any]:
    """`--name`, `--max-reservation-minutes` and `--cancellation-fee` (checked) as keyword arguments."""
    try:
        fee = Decimal(args.cancellation_fee)
    except InvalidOperation:
        raise CommandError(f"invalid input: cancellation fee {args.cancellation_fee!r}", EXIT_USAGE) from None
    if not fee.is_finite() or fee < 0:
        raise CommandError("invalid input: the cancellation fee must be 0 or more", EXIT_USAGE)
    return {
        "name": args.name,
        "max_reservation_minutes": args.max_reservation_minutes,
        "cancellation_fee": fee,
    }


async def cmd_emsp_cpo_add(config: Config, args: argparse.Namespace) -> int:
    """`csms emsp cpo add --versions-url URL --token-a TOKEN [--name N] [--max-reservation-minutes M]
    [--cancellation-fee EUR]`: register our eMSP role with a CPO (OCPI 2.2.1 Credentials, ADR 0023).

    The running CSMS (`[emsp] enabled`) must be reachable at our /emsp/ocpi versions URL: the CPO calls it
    back with our token B during the handshake.
    """
    from ocpi.emsp.registration import register_with_cpo
    from ocpi.registration import RegistrationError

    terms = _cpo_terms(args)
    _warn_unreachable_url(config)
    async with _emsp_role(config) as role:
        try:
            cpo = await register_with_cpo(role, args.versions_url, args.token_a, **terms)
        except RegistrationError as exc:
            code = f" (OCPI status {exc.status_code})" if exc.status_code is not None else ""
            raise CommandError(f"registration with {args.versions_url} failed{code}: {exc.message}") from None
    print(
        f"registered with CPO {cpo.id} {cpo.name} ({cpo.country_code}/{cpo.party_id} CPO), "
        f"{len(cpo.endpoints)} endpoints"
    )
    return EXIT_OK


async def cmd_emsp_cpo_invite(config: Config, args: argparse.Namespace) -> int:
    """`csms emsp cpo invite [--name N] [--max-reservation-minutes M] [--cancellation-fee EUR]`: issue a
    token A for a CPO to register with our eMSP role; prints our versions URL and the token A (once: only
    its hash is stored). The CPO POSTs its credentials to the running CSMS with them (ADR 0023)."""
    from ocpi.emsp.registration import invite_cpo

    terms = _cpo_terms(args)
    async with _emsp_role(config) as role:
        try:
            cpo, token_a = await invite_cpo(role, **terms)
        except ValueError as exc:
            raise CommandError(f"invalid input: {exc}", EXIT_USAGE) from None
        print(f"versions URL: {role.versions_url}")
    print(f"token A: {token_a}")
    print(f"CPO {cpo.id} is invited. Give it both values; the token cannot be shown again.", file=sys.stderr)
    _warn_unreachable_url(config)
    return EXIT_OK


async def cmd_emsp_cpo_list(config: Config, args: argparse.Namespace) -> int:
    """`csms emsp cpo list`: the CPOs our eMSP role registered with (id, name, party, status, endpoints,
    last pull), tab-separated; tokens are never shown."""
    from ocpi.emsp.sql_store import SqlEmspStore

    async with _open(config) as store:
        cpos = await SqlEmspStore(store.engine).list_cpos()  # type: ignore[attr-defined]
    for cpo in cpos:
        pulled = cpo.locations_pulled_at.isoformat() if cpo.locations_pulled_at else "-"
        party = f"{cpo.country_code or '-'}/{cpo.party_id or '-'}"
        print("\t".join([str(cpo.id), cpo.name or "-", party, cpo.status, str(len(cpo.endpoints)), pulled]))
    return EXIT_OK


async def cmd_agent_client(config: Config, args: argparse.Namespace) -> int:
    """`csms agent client add|rotate|list` (the booking Agent API's accounts, ADR 0024): add and rotate print
    the client's key alone on stdout (it is stored only as a bcrypt hash); list never shows keys nor webhook
    secrets."""
    from ocpi.agent.accounts import AccountError, add_client, rotate_key
    from ocpi.agent.store import SqlAgentStore

    async with _open(config) as store:
        agent = SqlAgentStore(store.engine)  # type: ignore[attr-defined]
        rounds = config.security.bcrypt_rounds
        allow_private = config.agent.allow_private_webhook_addresses
        if args.agent_client_command == "list":
            for c in await agent.list_clients():
                print(f"{c.id}\t{c.name}\tfee={c.reservation_fee}\tcommission={c.commission_percent}%"
                      f"\tquota={c.monthly_quota if c.monthly_quota is not None else '-'}")  # fmt: skip
            return EXIT_OK
        if args.agent_client_command == "rotate":
            key = await rotate_key(agent, args.id, bcrypt_rounds=rounds)
            if key is None:
                raise CommandError(f"agent client {args.id} not found (see `csms agent client list`)")
        else:
            try:
                _, key = await add_client(agent, name=args.name, reservation_fee=args.reservation_fee,
                                          commission_percent=args.commission_percent,
                                          monthly_quota=args.monthly_quota, webhook_url=args.webhook_url,
                                          webhook_secret=args.webhook_secret,
                                          allow_private_addresses=allow_private,
                                          bcrypt_rounds=rounds)  # fmt: skip
            except AccountError as exc:
                raise CommandError(f"invalid input: {exc}", EXIT_USAGE) from None
    print(key)
    return EXIT_OK


def _add_agent_commands(commands: Any) -> None:
    """The `csms agent client ...` subcommands."""
    agent = commands.add_parser("agent", help="the booking Agent API").add_subparsers(
        dest="agent_command", required=True
    )
    client = agent.add_parser("client", help="client accounts").add_subparsers(
        dest="agent_client_command", required=True
    )
    add = client.add_parser("add", help="create a client account and print its key once")
    add.add_argument("--name", required=True)
    add.add_argument("--reservation-fee", default="0", metavar="EUR", help="added to every booking")
    add.add_argument("--commission-percent", default="0", metavar="P", help="of the CPO's cost")
    add.add_argument("--monthly-quota", type=int, default=None, metavar="N", help="requests per month")
    add.add_argument("--webhook-url", default=None, metavar="URL", help="booking changes are POSTed here")
    add.add_argument("--webhook-secret", default=None, metavar="S",
                     help="signs each POST (X-Webhook-Signature); without it they are unsigned")  # fmt: skip
    add.set_defaults(func=cmd_agent_client)
    rotate = client.add_parser("rotate", help="replace a client's key (the old one stops working)")
    rotate.add_argument("id", type=int, metavar="ID")
    rotate.set_defaults(func=cmd_agent_client)
    client.add_parser("list", help="list client accounts").set_defaults(func=cmd_agent_client)


def _add_emsp_commands(commands: Any) -> None:
    """The `csms emsp ...` subcommands (the OCPI 2.2.1 eMSP role, ADR 0023)."""
    emsp = commands.add_parser("emsp", help="our OCPI 2.2.1 eMSP role").add_subparsers(
        dest="emsp_command", required=True
    )
    cpo = emsp.add_parser("cpo", help="CPOs we roam with").add_subparsers(
        dest="emsp_cpo_command", required=True
    )
    add = cpo.add_parser("add", help="register with a CPO given its versions URL and token A")
    add.add_argument("--versions-url", required=True, metavar="URL", help="the CPO's versions endpoint")
    add.add_argument("--token-a", required=True, metavar="TOKEN", help="the registration token it issued")
    add.set_defaults(func=cmd_emsp_cpo_add)
    invite = cpo.add_parser("invite", help="issue a token A for a CPO to register with us")
    invite.set_defaults(func=cmd_emsp_cpo_invite)
    for sub in (add, invite):
        sub.add_argument("--name", help="the CPO's name (default: its business name)")
        sub.add_argument("--max-reservation-minutes", type=int, help="longest reservation it accepts")
        sub.add_argument("--cancellation-fee", default="0", help="EUR it charges to cancel a reservation")
    cpo.add_parser("list", help="list the CPOs").set_defaults(func=cmd_emsp_cpo_list)


# -- csms location ... -------------------------------------------------------------------------------


async def cmd_location_power_limit(config: Config, args: argparse.Namespace) -> int:
    """`csms location power-limit LOCATION_ID [--max-power-w W] [--max-current-a A] [--phases 1|3]
    [--min-current-a A] [--schedule HH:MM=W ...] [--org ORG_ID]`: set the location's power limit, as
    `PUT /api/v1/locations/{id}/power-limit` does; the load balancer applies it at the site's next
    re-balance."""
    from csms.api.power_limits import PowerLimitBody, power_limit_json
    from csms.store.sql.site_limits import SqlSiteLimitStore

    schedule = []
    for item in args.schedule or []:
        start, _, power = item.partition("=")
        if not power.isdigit():
            raise CommandError(f"invalid input: schedule: {item!r} is not HH:MM=W", EXIT_USAGE)
        schedule.append({"start": start, "max_power_w": int(power)})
    args.schedule_items = schedule or None
    body = _validate(PowerLimitBody, args, schedule="schedule_items")
    async with _open_ocpi(config) as ctx:
        if await ctx.store.get_location(args.location_id, org_id=args.org) is None:
            raise CommandError(f"location {args.location_id!r} not found in organization {args.org!r}")
        limits = SqlSiteLimitStore(ctx.domain.services.store.engine)
        limit = body.to_site_limit()
        await limits.put_site_limit(args.org, args.location_id, limit)
    if args.json:
        _print_json(power_limit_json(args.location_id, limit))
    else:
        print(f"power limit of location {args.location_id} set")
    return EXIT_OK


def _add_location_commands(commands: Any) -> None:
    location = commands.add_parser("location", help="locations (sites)").add_subparsers(
        dest="location_command", required=True
    )
    limit = location.add_parser("power-limit", help="set a location's power limit (load balancing)")
    limit.add_argument("location_id", metavar="LOCATION_ID")
    limit.add_argument("--max-power-w", type=int, metavar="W", help="total import power of the site")
    limit.add_argument("--max-current-a", metavar="A", help="current per phase")
    limit.add_argument("--phases", type=int, metavar="N", help="1 or 3 (default 3)")
    limit.add_argument("--min-current-a", metavar="A", help="an EV gets at least this or is paused (6)")
    limit.add_argument(
        "--schedule", nargs="*", metavar="HH:MM=W", help="daily periods (UTC start, limit in W)"
    )
    limit.add_argument(
        "--org", default=DEFAULT_ORG_ID, metavar="ORG_ID", help="its organization (default: %(default)s)"
    )
    limit.add_argument("--json", action="store_true", help="print the limit as JSON")
    limit.set_defaults(func=cmd_location_power_limit)


def _add_ocpi_commands(commands: Any) -> None:
    """The `csms ocpi ...` subcommands (OCPI 2.2.1 partners)."""
    ocpi = commands.add_parser("ocpi", help="OCPI 2.2.1 roaming partners").add_subparsers(
        dest="ocpi_command", required=True
    )
    partner = ocpi.add_parser("partner", help="roaming partners").add_subparsers(
        dest="ocpi_partner_command", required=True
    )
    add = partner.add_parser("add", help="issue a registration token (token A) for a partner")
    add.add_argument("--name", required=True, help="the partner's name, for operators")
    add.add_argument("--country-code", required=True, metavar="CC", help="ISO 3166-1 alpha-2, e.g. DE")
    add.add_argument("--party-id", required=True, metavar="PID", help="the partner's 3-character party id")
    add.add_argument("--role", default="EMSP", help="the partner's role (default: %(default)s)")
    add.add_argument(
        "--json", action="store_true", help="print the partner, token A and versions URL as JSON"
    )
    add.set_defaults(func=cmd_ocpi_partner_add)
    register = partner.add_parser(
        "register", help="register with a partner given its versions URL and token A"
    )
    register.add_argument("url", metavar="URL", help="the partner's versions endpoint")
    register.add_argument("token_a", metavar="TOKEN_A", help="the registration token the partner issued us")
    register.add_argument("--name", help="the partner's name (default: its business name)")
    register.add_argument("--json", action="store_true", help="print the partner as JSON")
    register.set_defaults(func=cmd_ocpi_partner_register)
    listing = partner.add_parser("list", help="list partners")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=cmd_ocpi_partner_list)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `csms`; each leaf subcommand sets `func` (a `Command`) or `run`."""
    parser = argparse.ArgumentParser(prog="csms", description="Charging station management system.")
    parser.add_argument("--config", default="config.toml", help="configuration file (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the OCPP server and the REST API until SIGINT/SIGTERM")
    run.set_defaults(run=True)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="create or migrate the schema").set_defaults(func=cmd_db_upgrade)

    cp = commands.add_parser("chargepoint", help="charge points").add_subparsers(
        dest="cp_command", required=True
    )
    cp_add = cp.add_parser("add", help="register a charge point")
    cp_add.add_argument("charge_point_id", metavar="ID")
    cp_add.add_argument("--password", help="HTTP Basic auth password, 16 to 40 characters")
    cp_add.add_argument("--status", choices=[s.value for s in RegistrationStatus], default=None)
    cp_add.add_argument(
        "--org", default=DEFAULT_ORG_ID, metavar="ORG_ID", help="its organization (default: %(default)s)"
    )
    cp_add.add_argument(
        "--security-profile",
        type=int,
        choices=[1, 2, 3],
        default=None,
        help="OCPP security profile: 1 Basic auth, 2 TLS + Basic auth, 3 mutual TLS (default 1)",
    )
    cp_add.add_argument("--json", action="store_true", help="print the charge point as JSON")
    cp_add.set_defaults(func=cmd_chargepoint_add)
    cp_set = cp.add_parser("set", help="change a charge point's registration status or password")
    cp_set.add_argument("charge_point_id", metavar="ID")
    cp_set.add_argument("--status", choices=[s.value for s in RegistrationStatus], default=None)
    cp_set.add_argument("--password", help="new HTTP Basic auth password, 16 to 40 characters")
    cp_set.add_argument(
        "--security-profile",
        type=int,
        choices=[1, 2, 3],
        default=None,
        help="new OCPP security profile (2 and 3 connect only over wss://)",
    )
    cp_set.set_defaults(func=cmd_chargepoint_set)
    cp_list = cp.add_parser("list", help="list charge points")
    cp_list.add_argument("--json", action="store_true", help="print JSON")
    cp_list.set_defaults(func=cmd_chargepoint_list)

    token = commands.add_parser("token", help="id tokens").add_subparsers(dest="token_command", required=True)
    token_add = token.add_parser("add", help="register an id token")
    token_add.add_argument("id_token", metavar="TOKEN")
    token_add.add_argument("--type", choices=[t.value for t in IdTokenType], default=None)
    token_add.add_argument("--status", choices=[s.value for s in TokenStatus], default=None)
    token_add.add_argument("--expiry", metavar="ISO", help="expiry date, ISO 8601 (UTC if no offset)")
    token_add.add_argument("--group", metavar="G", help="group id token")
    token_add.add_argument("--json", action="store_true", help="print the id token as JSON")
    token_add.set_defaults(func=cmd_token_add)
    token_list = token.add_parser("list", help="list id tokens")
    token_list.add_argument("--json", action="store_true", help="print JSON")
    token_list.set_defaults(func=cmd_token_list)

    apikey = commands.add_parser("apikey", help="operator API keys").add_subparsers(
        dest="apikey_command", required=True
    )
    apikey_create = apikey.add_parser("create", help="create an API key and print it once")
    apikey_create.add_argument("--name", required=True, help="who or what uses the key")
    apikey_create.add_argument("--role", choices=API_KEY_ROLES, default="admin")
    apikey_create.add_argument(
        "--org", default=DEFAULT_ORG_ID, metavar="ORG_ID", help="its organization (default: %(default)s)"
    )
    apikey_create.add_argument("--json", action="store_true", help="print the key and its record as JSON")
    apikey_create.set_defaults(func=cmd_apikey_create)

    org = commands.add_parser("org", help="organizations").add_subparsers(dest="org_command", required=True)
    org_create = org.add_parser("create", help="create an organization and print its id")
    org_create.add_argument("name", metavar="NAME")
    org_create.add_argument("--country", required=True, metavar="CC", help="ISO 3166-1 alpha-2, e.g. DE")
    org_create.add_argument("--email", required=True, metavar="E", help="the contact email address")
    org_create.add_argument("--json", action="store_true", help="print the organization as JSON")
    org_create.set_defaults(func=cmd_org_create)
    org_list = org.add_parser("list", help="list organizations")
    org_list.add_argument("--json", action="store_true", help="print JSON")
    org_list.set_defaults(func=cmd_org_list)

    _add_ocpi_commands(commands)
    _add_emsp_commands(commands)
    _add_agent_commands(commands)
    _add_location_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `csms` with `argv` (default: the process arguments) and return the exit code.

    `csms run` blocks until SIGINT/SIGTERM; every other command returns when its work is done.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed by argparse
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"csms: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "run", False):
        # The server pulls in much more than the admin commands need. One process, or a supervisor of
        # `[server] workers` forked workers.
        from csms.workers import run_server

        return run_server(config)
    configure_cli_logging(config.log)
    func: Command = args.func
    try:
        return asyncio.run(func(config, args))
    except CommandError as exc:
        print(f"csms: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
