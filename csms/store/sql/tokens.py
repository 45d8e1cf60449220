"""Id tokens the operator registered (`TokenStore`, and the admin updates)."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from csms.domain.models import IdToken
from csms.domain.ports import Page
from csms.store.sql.base import ID_TOKENS, SqlBase, where_given
from csms.store.sql.rows import field_values, id_token_of
from csms.store.tables import IdTokenRow


class TokenSql(SqlBase):
    """Id tokens; the contract is `csms.domain.ports.TokenStore` (and `AdminStore` for update and delete)."""

    async def get_id_token(self, id_token: str, *, org_id: str | None = None) -> IdToken | None:
        return await self._get_owned(IdTokenRow, id_token, id_token_of, org_id)

    async def add_id_token(self, token: IdToken) -> IdToken:
        """Store a new token and return it as stored (`created_at`/`updated_at` filled in).

        Raises:
            AlreadyExists: a token with this id_token is registered.
        """
        created = token.created_at or self._clock()
        values = field_values(
            token, status=str(token.status), created_at=created, updated_at=token.updated_at or created
        )
        return id_token_of(await self._add(IdTokenRow(**values), f"id token {token.id_token!r} exists"))

    async def list_id_tokens(
        self, *, limit: int, cursor: str | None = None, org_id: str | None = None
    ) -> Page[IdToken]:
        """Tokens ordered by id_token (of one organization, when `org_id` is given); the cursor is the last
        id_token of the previous page."""
        stmt = where_given(select(IdTokenRow), {IdTokenRow.org_id: org_id})
        return await self._page(stmt, IdTokenRow.id_token, id_token_of, limit=limit, cursor=cursor)

    async def update_id_token(self, token: IdToken) -> None:
        """Overwrite the token's type, status, expiry_date and group_id_token; `updated_at` becomes now
        (also set on `token`).

        Raises:
            NotFound: no token with `token.id_token`.
        """
        token.updated_at = self._clock()
        values = field_values(token, "id_token", "created_at", "org_id", status=str(token.status))
        stmt = update(ID_TOKENS).where(ID_TOKENS.c.id_token == token.id_token).values(values)
        await self._change(stmt, f"id token {token.id_token!r}")

    async def delete_id_token(self, id_token: str) -> None:
        """Delete the token (transactions keep the id token text they were started with).

        Raises:
            NotFound: no token with this id_token.
        """
        await self._change(
            delete(ID_TOKENS).where(ID_TOKENS.c.id_token == id_token), f"id token {id_token!r}"
        )
