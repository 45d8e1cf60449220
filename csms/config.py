"""Configuration: `config.toml` read with tomllib, every key overridable by `CSMS_<SECTION>_<KEY>`.

The defaults below are the reference; `config.toml` documents them for operators. Unknown keys in the
file are an error, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args

UnknownChargePointPolicy = Literal["accept", "pending", "reject"]
LogFormat = Literal["auto", "json", "console"]


class ConfigError(ValueError):
    """The configuration file or an environment override is invalid."""


@dataclass(frozen=True, slots=True)
class OcppConfig:
    """`[ocpp]`: the websocket endpoint and the OCPP behaviour towards charge points."""

    host: str = "127.0.0.1"
    port: int = 9000
    path: str = "/ocpp"
    # What happens to a charge point id we have never seen: recorded and accepted, recorded and answered
    # Pending until an operator accepts it, or refused at the handshake (HTTP 404).
    unknown_charge_points: UnknownChargePointPolicy = "accept"
    # The organization an unknown charge point recorded by that policy belongs to (`csms.domain.tenancy`).
    unknown_charge_points_org: str = "default"
    # A charge point without a stored password may connect without HTTP Basic auth unless this is true.
    require_password: bool = False
    heartbeat_interval: int = 300
    # `interval` in a Pending or Rejected BootNotification answer: when the station should retry.
    boot_retry_interval: int = 60
    # BootNotifications whose boot data is not yet committed, at most: beyond it a BootNotification is
    # answered Pending with an `interval` drawn from [boot_retry_interval/2, boot_retry_interval*1.5], so
    # a boot storm is spread out instead of piling up (the socket stays open; the station boots again).
    boot_concurrency: int = 2000
    # How often (seconds) charge points changed by another process (the `csms chargepoint` CLI) are
    # reloaded into the admission cache; 0 turns it off. Changes over the REST API apply at once.
    station_refresh_interval: float = 5.0
    # Answer for id tokens the store does not know: "Invalid" (default) or "Accepted".
    unknown_id_tokens: str = "Invalid"
    call_timeout: float = 30.0
    max_frame_bytes: int = 65536
    # Token bucket per connection; frames beyond it get a CALLERROR, a sustained flood closes the socket.
    rate_limit_per_second: float = 100.0
    rate_limit_burst: int = 1000
    message_log: bool = True
    message_log_retention_days: float = 7.0
    backlog: int = 4096
    # How often the CSMS looks for reservations past their expiry date (it tracks expiry itself, even
    # while the station is offline).
    reservation_check_interval: float = 1.0
    # OCPP 2.0.1 stations that show costs (TariffAndCost, csms.domain.costs) get a CostUpdated when their
    # meter advances, at most once per this many seconds per transaction; 0: never (totalCost in the
    # TransactionEvent answers is sent regardless).
    cost_update_interval: float = 60.0
    # Local authorization lists (csms.domain.local_list_sync, ADR 0016): keep every connected station's list
    # in sync with its organization's id tokens; a station answering NotSupported is not synced again.
    local_list_sync: bool = True
    # Seconds between a token change (or a station connecting) and the update sent: one update per burst.
    local_list_sync_delay: float = 1.0
    # Entries per SendLocalList when the station reported no SendLocalListMaxLength / ItemsPerMessage.
    local_list_items_per_message: int = 100
    ping_interval: float = 60.0
    # `[ocpp.tls]` (security profiles 2 and 3): a second listener for wss:// on `host:tls_port` (0 picks a
    # free port), enabled when both cert_file and key_file are set; client_ca_file verifies the client
    # certificates of profile 3 stations. Environment: CSMS_OCPP_TLS_PORT, CSMS_OCPP_TLS_CERT_FILE, ...
    tls_port: int = 9443
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_client_ca_file: str = ""

    @property
    def tls_enabled(self) -> bool:
        """True when the wss:// listener is configured (certificate and key given)."""
        return bool(self.tls_cert_file and self.tls_key_file)


# Sub-tables of a section, flattened into its keys: `[ocpp.tls] port` is the field `OcppConfig.tls_port`
# (and so its environment variable is CSMS_OCPP_TLS_PORT).
_SUBTABLES: dict[str, tuple[str, ...]] = {"ocpp": ("tls",)}


def _flatten(name: str, given: dict[str, Any]) -> dict[str, Any]:
    """`given` with each known sub-table's keys lifted to `<subtable>_<key>`.

    Raises:
        ConfigError: a sub-table that is not a table.
    """
    flat = dict(given)
    for sub in _SUBTABLES.get(name, ()):
        table = flat.pop(sub, None)
        if table is None:
            continue
        if not isinstance(table, dict):
            raise ConfigError(f"[{name}.{sub}] must be a table")
        flat.update({f"{sub}_{key}": value for key, value in table.items()})
    return flat


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """`[http]`: the REST API (and later the OCPI bridge)."""

    host: str = "127.0.0.1"
    port: int = 8080


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """`[database]`: where state lives and how frequent writes are batched."""

    url: str = "sqlite+aiosqlite:///var/csms.db"
    batch_max_items: int = 1000
    batch_interval_ms: int = 200
    # Backpressure: with this many writes queued (the database is slower than the stations), a connection
    # stops reading its socket until the queue is written; CALLs are refused only while the database is down.
    max_pending_items: int = 200_000
    # How long a batch is retried while the database is unreachable before its items are dropped.
    outage_retry_seconds: float = 300.0
    echo: bool = False


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    """`[security]`: hashing of secrets (API keys, charge point passwords)."""

    bcrypt_rounds: int = 12
    # Brute force (`csms.domain.throttle`): wrong station passwords/certificates and wrong API keys/tokens
    # from one address are free this many times, then refused after a delay doubling from 0.25 s up to
    # `auth_failure_max_delay` seconds (0 turns the delay off); a success resets the count.
    auth_failures_free: int = 5
    auth_failure_max_delay: float = 10.0


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """`[auth]`: users' sign-in tokens (`POST /api/v1/auth/login`)."""

    access_token_seconds: int = 900  # short-lived: a leaked access token is useless after 15 minutes
    refresh_token_seconds: int = 30 * 86400


@dataclass(frozen=True, slots=True)
class EmailConfig:
    """`[email]`: the SMTP server invitations are sent through (aiosmtplib)."""

    host: str = "127.0.0.1"
    port: int = 25
    username: str = ""  # empty: no SMTP AUTH
    password: str = ""
    from_address: str = "csms@localhost"
    use_tls: bool = False  # implicit TLS from the first byte (usually port 465)
    start_tls: bool = False  # STARTTLS after connecting (usually port 587)
    timeout: float = 30.0  # seconds for the whole conversation with the server
    invitation_hours: float = 72.0  # how long an invitation's token may be accepted


@dataclass(frozen=True, slots=True)
class LogConfig:
    """`[log]`: structlog output."""

    level: str = "info"
    format: LogFormat = "auto"


@dataclass(frozen=True, slots=True)
class OcpiConfig:
    """`[ocpi]`: the OCPI 2.2.1 bridge (CPO role) served under /ocpi on the HTTP port."""

    country_code: str = "NL"  # our ISO 3166-1 alpha-2 country code as a CPO
    party_id: str = "CSM"  # our OCPI party id (3 characters)
    business_name: str = "Open CSMS"
    business_address: str = ""  # the operator's postal address, one line, printed on receipts under the name
    # More CPO parties this installation serves besides the default one above, each
    # "<country_code>*<party_id>:<business name>", separated by ";" (e.g. "BE*ABC:ABC Charging;DE*XYZ:XYZ"):
    # each location belongs to one party (default: the one above); our credentials list a CPO role each.
    extra_parties: str = ""
    # The URL partners reach us at (scheme, host, port; no trailing slash); empty: http://{http.host}:{port}.
    public_url: str = ""
    max_page_limit: int = 100  # server-side cap of `limit` on paginated GETs (X-Limit)
    currency: str = "EUR"
    # Real-time authorization (POST {emsp tokens}/{uid}/authorize): how long to wait, and what to answer
    # when the eMSP does not answer in time ("Accepted" or "Invalid").
    realtime_authorization_timeout: float = 5.0
    realtime_authorization_fallback: str = "Invalid"
    push_max_attempts: int = 20  # an outbox entry is marked failed after this many attempts
    push_retry_seconds: float = 5.0  # first back-off; doubles per attempt, capped at one hour
    # An outbox entry taken for delivery by one process is claimed for this long (several processes or
    # nodes deliver each entry once); a process that dies mid-delivery leaves it to another after it.
    push_claim_seconds: float = 120.0
    # At start, sessions, CDRs and EVSE statuses changed this long before are compared with what partners
    # were sent (`ocpi.reconcile`): what a crash kept from the outbox is queued. 0 turns it off.
    reconcile_window_seconds: float = 86400.0
    # Pull each eMSP's token list (OCPI 2.2.1 Tokens sender) this often, asking only for what changed since
    # the last pull; also at registration and at start. 0: only at registration and at start.
    token_pull_interval: float = 3600.0
    # A JSON file of vehicles added to (or replacing by id) the shipped catalogue of the estimates API
    # (`/v1/vehicles`, ocpi/chargeprice/vehicles.json shows the shape); empty: the shipped catalogue only.
    chargeprice_vehicles_file: str = ""

    def parties(self) -> tuple[OcpiParty, ...]:
        """Every CPO party we serve: the default one (`country_code`, `party_id`, `business_name`) first,
        then `extra_parties` in their order (as `load_config` checked them).

        Raises:
            ConfigError: `extra_parties` is malformed (only for a config not made by `load_config`).
        """
        default = OcpiParty(self.country_code.upper(), self.party_id.upper(), self.business_name)
        return (default, *parse_parties(self.extra_parties))

    def party(self, country_code: str, party_id: str) -> OcpiParty | None:
        """The party we serve with that country code and party id (CiStrings: any case), or None."""
        wanted = (country_code.upper(), party_id.upper())
        return next((p for p in self.parties() if (p.country_code, p.party_id) == wanted), None)


@dataclass(frozen=True, slots=True)
class EmspConfig:
    """`[emsp]`: the OCPI 2.2.1 eMSP role (`ocpi.emsp`), served under /emsp/ocpi on the HTTP port."""

    enabled: bool = False
    country_code: str = "NL"  # our ISO 3166-1 alpha-2 country code as an eMSP
    party_id: str = "EMS"  # our eMSP party id (3 letters or digits)
    business_name: str = "Open CSMS eMSP"
    # The organization whose id tokens are our drivers' tokens (the Tokens sender, ADR 0023).
    org_id: str = "default"
    pull_interval_seconds: float = 900.0  # locations and tariffs of every CPO; 0: only on demand
    locations_max_age_seconds: float = 300.0  # an on-demand read older than this pulls first
    command_timeout_seconds: float = 60.0  # margin added to the CPO's timeout before our own TIMEOUT
    max_reservation_minutes: int = 240  # default per CPO (`csms emsp cpo add --max-reservation-minutes`)


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """`[agent]`: the booking Agent API (`ocpi.agent`, under /agent/v1 when `[emsp] enabled`; ADR 0024)."""

    requests_per_minute: int = 120  # per client (X-RateLimit-*); the monthly quota is per client account
    search_max_age_seconds: float = 300.0  # a CPO's cached locations older than this are pulled again
    cpo_timeout_seconds: float = 5.0  # one CPO's share of a search; slower gives a `timeout` entry
    estimate_kwh: float = 20.0  # what client_price assumes is charged (at most)
    estimate_minutes: int = 60  # the window a search result's client_price assumes
    tick_seconds: float = 1.0  # how often bookings are checked for their window's start and end
    webhook_timeout_seconds: float = 5.0  # one POST of a booking to a client's webhook
    webhook_max_attempts: int = 6  # tries per delivery before it is marked failed (and the next move goes)
    webhook_backoff_seconds: float = 2.0  # wait after the first failure; doubled after each further one
    webhook_poll_seconds: float = 1.0  # how often the worker looks for due deliveries (retries, restarts)
    # Deliver to loopback, private, link-local and other non-public addresses too (as `[webhooks]
    # allow_private_addresses`). Off: a client's webhook URL could otherwise make the CSMS POST to the
    # services beside it (csms.webhooks.addresses).
    allow_private_webhook_addresses: bool = False


@dataclass(frozen=True, slots=True)
class OcpiParty:
    """One CPO party we serve (OCPI 2.2.1 Credentials: one CredentialsRole each), codes in upper case."""

    country_code: str
    party_id: str
    business_name: str


# One `extra_parties` entry: ISO 3166-1 alpha-2, "*", a 3-character party id (OCPI 2.2.1 CiString(2) and
# CiString(3); letters and digits as eMI3 party ids), ":", the business name (OCPI BusinessDetails.name,
# string(100)).
_PARTY = re.compile(r"^([A-Za-z]{2})\*([A-Za-z0-9]{3}):(.{1,100})$")


def parse_parties(text: str) -> tuple[OcpiParty, ...]:
    """The parties of an `[ocpi] extra_parties` value ("CC*PID:Name;CC*PID:Name"; empty: none).

    Raises:
        ConfigError: an entry that is not `CC*PID:Name` (naming it).
    """
    parties: list[OcpiParty] = []
    for raw in text.split(";"):
        entry = raw.strip()
        if not entry:
            continue
        match = _PARTY.match(entry)
        if match is None or not match.group(3).strip():
            raise ConfigError(
                f"ocpi.extra_parties: {entry!r} is not <country_code>*<party_id>:<business name> "
                "(e.g. BE*ABC:ABC Charging; 2 letters, 3 letters or digits, a name of 1 to 100 characters)"
            )
        parties.append(OcpiParty(match.group(1).upper(), match.group(2).upper(), match.group(3).strip()))
    return tuple(parties)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """`[server]`: how many processes serve this host."""

    # N > 1: N worker processes share the OCPP and HTTP ports (the kernel spreads connections over them);
    # they need a cluster (`[cluster] redis_url`) and PostgreSQL, like several nodes do.
    workers: int = 1
    # Seconds the supervisor waits, after forwarding SIGTERM/SIGINT, for its workers to stop before it
    # SIGKILLs those still running (logged `worker_killed`; the supervisor then exits 1), so a worker whose
    # shutdown hangs cannot keep `csms run` from exiting (as systemd's TimeoutStopSec does for a service).
    stop_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """`[cluster]`: several processes or nodes on one PostgreSQL, routed through Redis.

    Each charge point's socket lives on one process; a command from any process reaches it through Redis.
    Empty `redis_url` (the default): one process, no Redis.
    """

    redis_url: str = ""  # e.g. redis://127.0.0.1:6379/0
    node_id: str = ""  # empty: <hostname>-<pid>-<random>, new at every start
    key_prefix: str = "csms"  # Redis keys and channels start with it (several CSMS on one Redis)
    # A node that has not renewed its lease for this long is dead: its stations count as offline.
    node_lease_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class WebhooksConfig:
    """`[webhooks]`: delivery of signed events to the organizations' endpoints (csms.webhooks, ADR 0011)."""

    max_attempts: int = 8  # tries per delivery before it is marked failed (and the next event goes)
    backoff_base_seconds: float = 5.0  # wait after the first failure; doubled after each further one
    backoff_max_seconds: float = 3600.0  # the back-off never grows beyond this
    timeout_seconds: float = 10.0  # one POST, connect to answer
    poll_seconds: float = 1.0  # how often the worker looks for due deliveries
    claim_seconds: float = 60.0  # how long a node's claim on a delivery keeps other nodes off it
    session_update_seconds: float = 60.0  # at most one session.updated per session this often
    # Deliver to loopback, private, link-local and other non-public addresses too. Off: an organization's
    # admin could otherwise make the CSMS POST to the services beside it (csms.webhooks.addresses).
    allow_private_addresses: bool = False


@dataclass(frozen=True, slots=True)
class FilesConfig:
    """`[files]`: firmware images operators upload and logs stations upload (ADR 0015)."""

    dir: str = "var/files"  # firmware/ and logs/ below it
    # The address stations reach the CSMS's HTTP port at, e.g. https://csms.example.com; empty:
    # http://{http.host}:{http.port}. Download and upload URLs sent to stations start with it.
    public_url: str = ""
    max_firmware_bytes: int = 256 * 1024 * 1024
    max_log_bytes: int = 64 * 1024 * 1024
    # A campaign's station counts as failed (the next one starts) without a final status for this long.
    campaign_step_timeout: float = 3600.0


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """`[rate_limit]`: requests per principal (API key or user) per minute, and a monthly quota per
    organization (0: none). Counted in memory, or in Redis in a cluster (csms.api.limits)."""

    enabled: bool = True
    requests_per_minute: int = 600
    monthly_quota: int = 0


@dataclass(frozen=True, slots=True)
class CertificatesConfig:
    """`[certificates]`: the CA that signs station certificates (csms.domain.certificates, ADR 0014).

    `ca_cert_file` / `ca_key_file`: PEM files of the CA; created there on first use when neither exists,
    kept in memory only when both are empty. `validity_days`: lifetime of a signed station certificate;
    `renew_before_days`: a renewal is triggered this long before it lapses, checked every
    `renewal_check_interval` seconds; `min_rsa_bits`: the smallest RSA key accepted in a CSR."""

    # On disk by default: the stations' certificates (and profile 3's client_ca_file) outlive a restart.
    ca_cert_file: str = "var/certificates/ca.pem"
    ca_key_file: str = "var/certificates/ca.key"
    validity_days: int = 365
    renew_before_days: int = 30
    renewal_check_interval: float = 3600.0
    min_rsa_bits: int = 2048


@dataclass(frozen=True, slots=True)
class EnergyConfig:
    """`[energy]`: tariff- and carbon-aware schedules (csms.domain.energy, ADR 0019)."""

    # HTTP source of each site's forecast, `{location_id}` replaced by the OCPI location id; "" = none
    # (forecasts then come only from CSV uploads). The JSON format: csms/domain/energy/forecasts.py.
    forecast_url: str = ""
    refresh_minutes: float = 60.0  # how often every known site's forecast is fetched again
    # What a site's schedules minimize unless the driver chose (OCPI CHEAP / GREEN / FAST): cost or carbon.
    optimize: str = "cost"
    # The power a session may draw when neither the EV nor the site limit says less (W).
    max_power_w: int = 11000
    # Stack level of the planner's TxProfiles: above the load balancer's (1), so a plan (kept within the
    # balancer's share) governs a planned session; OCPI ChargingProfiles use this + 1.
    stack_level: int = 2


@dataclass(frozen=True, slots=True)
class SolarConfig:
    """`[solar]`: solar surplus charging (csms.domain.solar, ADR 0022)."""

    # HTTP meter of each site's PV production and own consumption, `{location_id}` replaced by the OCPI
    # location id, answering JSON {"production_w": W, "consumption_w": W}; "" = none (measurements then
    # come only from POST /api/v1/locations/{id}/measurements).
    meter_url: str = ""
    poll_seconds: float = 10.0  # how often every site's meter is read


@dataclass(frozen=True, slots=True)
class UiConfig:
    """`[ui]`: the operator dashboard under `/ui` (csms.ui, ADR 0020)."""

    # Key of the HMAC that signs dashboard session cookies. Empty: a random one per start (the workers of
    # `[server] workers` share their supervisor's); set it when several nodes serve one dashboard, or for
    # sign-ins to survive a restart.
    session_secret: str = ""
    session_seconds: int = 8 * 3600  # how long a dashboard sign-in lasts


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration, one dataclass per TOML section."""

    ocpp: OcppConfig = field(default_factory=OcppConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    log: LogConfig = field(default_factory=LogConfig)
    ocpi: OcpiConfig = field(default_factory=OcpiConfig)
    emsp: EmspConfig = field(default_factory=EmspConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    files: FilesConfig = field(default_factory=FilesConfig)
    certificates: CertificatesConfig = field(default_factory=CertificatesConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    solar: SolarConfig = field(default_factory=SolarConfig)
    ui: UiConfig = field(default_factory=UiConfig)


# Keys whose value must be one of a fixed set (the Literal types above).
_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("ocpp", "unknown_charge_points"): get_args(UnknownChargePointPolicy),
    ("ocpp", "unknown_id_tokens"): ("Invalid", "Accepted"),
    ("log", "format"): get_args(LogFormat),
    ("ocpi", "realtime_authorization_fallback"): ("Invalid", "Accepted"),
    ("energy", "optimize"): ("cost", "carbon"),
}


def _coerce(section: str, key: str, raw: Any, default: Any) -> Any:
    """Return `raw` converted to the type of the field's default, or raise ConfigError."""
    where = f"{section}.{key}"
    literal_choices = _CHOICES.get((section, key), ())
    try:
        if isinstance(default, bool):
            if isinstance(raw, bool):
                value: Any = raw
            elif str(raw).lower() in ("1", "true", "yes", "on"):
                value = True
            elif str(raw).lower() in ("0", "false", "no", "off"):
                value = False
            else:
                raise ValueError(raw)
        elif isinstance(default, int):
            if isinstance(raw, bool):
                raise ValueError(raw)
            value = int(raw)
        elif isinstance(default, float):
            value = float(raw)
        else:
            value = str(raw)
    except ValueError as exc:
        raise ConfigError(f"{where}: {raw!r} is not a valid {type(default).__name__}") from exc
    if literal_choices and value not in literal_choices:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(literal_choices)}")
    return value


def _section_types() -> dict[str, type]:
    return {f.name: type(getattr(Config(), f.name)) for f in fields(Config)}


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read `path` (if given and present), then apply `CSMS_<SECTION>_<KEY>` overrides from `environ`.

    Raises:
        ConfigError: unknown section or key, or a value of the wrong type.
    """
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if p.exists():
            with p.open("rb") as fh:
                data = tomllib.load(fh)
        elif path is not None and str(path) != "config.toml":
            raise ConfigError(f"configuration file {p} not found")
    sections = _section_types()
    unknown_sections = set(data) - set(sections)
    if unknown_sections:
        raise ConfigError(f"unknown section(s): {', '.join(sorted(unknown_sections))}")
    result = Config()
    for name, cls in sections.items():
        current = getattr(result, name)
        given = data.get(name, {})
        if not isinstance(given, dict):
            raise ConfigError(f"[{name}] must be a table")
        given = _flatten(name, given)
        known = {f.name for f in fields(cls)}
        unknown = set(given) - set(known)
        if unknown:
            raise ConfigError(f"unknown key(s) in [{name}]: {', '.join(sorted(unknown))}")
        changes: dict[str, Any] = {}
        for key in sorted(known):
            default = getattr(current, key)
            env_name = f"CSMS_{name.upper()}_{key.upper()}"
            if env_name in env:
                changes[key] = _coerce(name, key, env[env_name], default)
            elif key in given:
                changes[key] = _coerce(name, key, given[key], default)
        result = replace(result, **{name: replace(current, **changes)})
    _check_cluster(result)
    _check_parties(result.ocpi)
    _check_emsp(result.emsp)
    if result.email.use_tls and result.email.start_tls:
        raise ConfigError("email.use_tls and email.start_tls: choose one (implicit TLS or STARTTLS)")
    if result.ocpi.push_claim_seconds <= 0:  # a claim that never holds would let every process deliver
        raise ConfigError(f"ocpi.push_claim_seconds: {result.ocpi.push_claim_seconds} must be above 0")
    org = result.ocpp.unknown_charge_points_org
    if not org.strip() or len(org) > 64:  # an organization id is 1 to 64 characters (`org_id` columns)
        raise ConfigError(f"ocpp.unknown_charge_points_org: {org!r} must be 1 to 64 characters")
    return result


def _check_parties(ocpi: OcpiConfig) -> None:
    """Every extra party is well-formed and named once (the default one included): a party is one OCPI
    role of ours, and a role must be unique (OCPI 2.2.1 Credentials object)."""
    seen: set[tuple[str, str]] = set()
    for party in ocpi.parties():
        key = (party.country_code, party.party_id)
        if key in seen:
            raise ConfigError(f"ocpi.extra_parties: {'*'.join(key)} is named twice (or is the default party)")
        seen.add(key)


def _check_emsp(emsp: EmspConfig) -> None:
    """Our eMSP party is well-formed (OCPI 2.2.1 CiString(2) and CiString(3), as `extra_parties`)."""
    if _PARTY.match(f"{emsp.country_code}*{emsp.party_id}:{emsp.business_name}") is None:
        raise ConfigError(
            f"emsp: {emsp.country_code!r}/{emsp.party_id!r}/{emsp.business_name!r} is not a party "
            "(2 letters, 3 letters or digits, a business name of 1 to 100 characters)"
        )
    if emsp.max_reservation_minutes <= 0:
        raise ConfigError(f"emsp.max_reservation_minutes: {emsp.max_reservation_minutes} must be above 0")


def _check_cluster(config: Config) -> None:
    """Several processes need what they share: Redis for routing, PostgreSQL for state (one SQLite file
    has one writer)."""
    if config.server.workers < 1:
        raise ConfigError(f"server.workers: {config.server.workers} must be at least 1")
    if config.server.stop_timeout <= 0:
        raise ConfigError(f"server.stop_timeout: {config.server.stop_timeout} must be positive")
    clustered = config.server.workers > 1 or bool(config.cluster.redis_url)
    if not clustered:
        return
    if not config.cluster.redis_url:
        raise ConfigError("server.workers > 1 needs cluster.redis_url (Redis routes commands to stations)")
    if not config.database.url.startswith("postgresql"):
        raise ConfigError(
            "a cluster (cluster.redis_url or server.workers > 1) needs a PostgreSQL database.url"
        )
