"""`SqlStore`: the whole `Store` protocol, composed from one part per aggregate, and `open_store`."""

from __future__ import annotations

import structlog

from csms.config import DatabaseConfig
from csms.domain.clock import Clock, utcnow
from csms.store.migrate import migrate
from csms.store.sql.api_keys import ApiKeySql
from csms.store.sql.batch import BatchSql
from csms.store.sql.certificates import CertificateSql
from csms.store.sql.device_model import DeviceModelSql
from csms.store.sql.energy import EnergySql
from csms.store.sql.engine import make_engine
from csms.store.sql.firmware import FirmwareSql
from csms.store.sql.id_token_aliases import IdTokenAliasSql
from csms.store.sql.identity import IdentitySql
from csms.store.sql.local_lists import LocalListSql
from csms.store.sql.message_log import MessageLogSql
from csms.store.sql.portal import PortalSql
from csms.store.sql.reservations import ReservationSql
from csms.store.sql.station_events import StationEventSql
from csms.store.sql.stations import StationSql
from csms.store.sql.tokens import TokenSql
from csms.store.sql.transactions import TransactionSql
from csms.store.sql.ui_sessions import UiSessionSql

log = structlog.get_logger("csms.store.sql")


class SqlStore(
    EnergySql,
    StationSql,
    TokenSql,
    IdTokenAliasSql,
    UiSessionSql,
    TransactionSql,
    MessageLogSql,
    StationEventSql,
    ApiKeySql,
    IdentitySql,
    PortalSql,
    FirmwareSql,
    CertificateSql,
    LocalListSql,
    ReservationSql,
    DeviceModelSql,
    BatchSql,
):
    """The whole `Store` protocol on an `AsyncEngine` (SQLite or PostgreSQL, schema already migrated).

    Args:
        engine: an engine whose database `migrate` has brought to head; the store owns it from now on and
            disposes of it in `close`.
        clock: source of `created_at`/`updated_at`/`received_at`; tests pass a fixed one.

    Every datetime returned is timezone-aware UTC; every datetime passed in may be in any zone (naive ones
    are taken as UTC) and is stored in UTC. List methods raise ValueError for `limit < 1` or a cursor they
    did not hand out.
    """


async def open_store(config: DatabaseConfig, *, clock: Clock = utcnow) -> SqlStore:
    """Create the engine, migrate the schema to the newest revision and return the store.

    Call once at start-up; `await store.close()` at shutdown.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database is unreachable or refused a migration.
    """
    engine = make_engine(config)
    try:
        await migrate(engine)
    except BaseException:
        await engine.dispose()
        raise
    log.info("store_opened", dialect=engine.dialect.name, database=engine.url.database)
    return SqlStore(engine, clock=clock)
