"""Id tokens the operator registered (`TokenStore`, and the admin updates)."""

from __future__ import annotations

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from csms.domain.models import (
    IdToken,
)
from csms.domain.ports import (
    AlreadyExists,
    NotFound,
)
from csms.store.sql.base import (
    ID_TOKENS,
    SqlBase,
    page_limit,
    rowcount,
)
from csms.store.sql.rows import (
    id_token_of,
)
from csms.store.tables import (
    IdTokenRow,
)

log = structlog.get_logger("csms.store.sql")


class TokenSql(SqlBase):
    """Id tokens."""

    async def get_id_token(self, id_token: str) -> IdToken | None:
        """Return the token, or None if no operator registered it."""
        async with self._sessions() as session:
            row = await session.get(IdTokenRow, id_token)
            return None if row is None else id_token_of(row)

    async def add_id_token(self, token: IdToken) -> IdToken:
        """Store a new token and return it as stored (`created_at`/`updated_at` filled in).

        Raises:
            AlreadyExists: a token with this id_token is registered.
        """
        created = token.created_at or self._clock()
        row = IdTokenRow(
            id_token=token.id_token,
            type=token.type,
            status=str(token.status),
            expiry_date=token.expiry_date,
            group_id_token=token.group_id_token,
            created_at=created,
            updated_at=token.updated_at or created,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"id token {token.id_token!r} exists") from None
        return id_token_of(row)

    async def list_id_tokens(
        self, *, limit: int, cursor: str | None = None
    ) -> tuple[list[IdToken], str | None]:
        """Tokens ordered by id_token; the cursor is the last id_token of the previous page.

        Returns:
            (at most `limit` tokens, the cursor for the next page or None if this is the last).
        """
        stmt = select(IdTokenRow).order_by(IdTokenRow.id_token).limit(page_limit(limit) + 1)
        if cursor is not None:
            stmt = stmt.where(IdTokenRow.id_token > cursor)
        async with self._sessions() as session:
            rows = list((await session.scalars(stmt)).all())
        page = [id_token_of(r) for r in rows[:limit]]
        return page, (page[-1].id_token if len(rows) > limit else None)

    async def update_id_token(self, token: IdToken) -> None:
        """Overwrite the token's type, status, expiry_date and group_id_token; `updated_at` becomes now
        (also set on `token`).

        Raises:
            NotFound: no token with `token.id_token`.
        """
        token.updated_at = self._clock()
        stmt = (
            update(ID_TOKENS)
            .where(ID_TOKENS.c.id_token == token.id_token)
            .values(
                type=token.type,
                status=str(token.status),
                expiry_date=token.expiry_date,
                group_id_token=token.group_id_token,
                updated_at=token.updated_at,
            )
        )
        async with self._sessions.begin() as session:
            if rowcount(await session.execute(stmt)) == 0:
                raise NotFound(f"id token {token.id_token!r}")

    async def delete_id_token(self, id_token: str) -> None:
        """Delete the token (transactions keep the id token text they were started with).

        Raises:
            NotFound: no token with this id_token.
        """
        stmt = delete(ID_TOKENS).where(ID_TOKENS.c.id_token == id_token)
        async with self._sessions.begin() as session:
            if rowcount(await session.execute(stmt)) == 0:
                raise NotFound(f"id token {id_token!r}")
