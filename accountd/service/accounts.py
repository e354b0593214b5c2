"""AccountService: validate → store → outbox. Imports neither aiohttp nor nats.

The HTTP handlers and the NATS responder both call this one object, so a JWT is judged the same
way whichever door it came through (SPEC §6.4, §6.6). Publication is not done here: every
successful write leaves the account *pending* in the store (durably, in the same commit), and
:attr:`on_change` wakes whoever drains that outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from accountd.claims import (
    AccountClaims,
    DecodeError,
    GenericClaims,
    KeyPair,
    Trust,
    Validation,
    decode_account,
    decode_generic,
    encode,
    is_account_key,
    validate_account,
)
from accountd.claims.keys import Role, looks_like_account_key, public_role
from accountd.errors import AccountNotFound, BadRequest, Forbidden, StaleJWT, Unavailable
from accountd.service.audit import Attempt, AuditLog
from accountd.service.cache import DEFAULT_CACHE_SIZE, AccountCache, CachedAccount, entry_of, meta_of
from accountd.service.managed import ManagedPolicy, Signer
from accountd.service.origin import managed_origin
from accountd.store import Conflict, NotFound, Record, Store, StoreError
from accountd.types import JWT, AccountKey

__all__ = ["AccountService", "PutResult"]

VALIDATION_HEADER = "The server was unable to update your account JWT. One more more validation issues occurred."
DELETE_MAX_AGE = 600
"""A delete token older than this (seconds) is refused as a replay."""
CAS_ATTEMPTS = 3
"""Tries of a POST that loses compare-and-set races (409 "changed concurrently" after the last)."""
PAGE_MAX = 1000


@dataclass(frozen=True, slots=True)
class PutResult:
    account: AccountKey
    changed: bool
    cached: CachedAccount
    notes: tuple[str, ...] = ()


class AccountService:
    def __init__(
        self,
        store: Store,
        trust: Trust,
        *,
        signer: KeyPair | None = None,
        policy: ManagedPolicy | None = None,
        skew: int = 0,
        allow_delete: bool = True,
        clock: Callable[[], float] = time.time,
        cache: AccountCache | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        if signer is not None and signer.public_key not in trust.operator.nats.signing_keys:
            raise ValueError(
                f"signing key {signer.public_key} is not listed in the operator's signing_keys"
            )
        self.store = store
        self.trust = trust
        self.signer = signer
        self.policy = policy or ManagedPolicy()
        self.managed = Signer(signer, self.policy, trust)
        self.skew = skew
        self.allow_delete = allow_delete
        self.clock = clock
        self.on_change: Callable[[], None] = lambda: None
        self.cache = cache if cache is not None else AccountCache.from_size(DEFAULT_CACHE_SIZE)
        self.audit = audit if audit is not None else AuditLog(None)
        """Where HTTP and NATS record each write :class:`Attempt` they hand to :meth:`put`/:meth:`delete`."""
        self._epoch = 0
        """Counts writes and forgets: a read that saw it change may hold an older record than the
        cache just got, so it is not cached."""
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self.counters: dict[str, int] = {"puts": 0, "unchanged": 0, "stale": 0, "rejected": 0, "deletes": 0}

    # --- reads ---------------------------------------------------------------------------

    def cached(self, account: str) -> CachedAccount | None:
        """The cached entry, if any: the fast path for GET."""
        return self.cache.get(account)

    async def get(self, account: str) -> CachedAccount:
        entry = self.cache.get(account)
        if entry is not None:
            return entry
        return await self.load(account)

    async def load(self, account: str) -> CachedAccount:
        """Read ``account`` from the store into the cache (after :meth:`cached` missed).

        Every key in the store was checked when it was stored, so a key of the right form is looked
        up at once; its checksum is checked (a base32 decode, as long as the lookup) only when the
        store does not hold it, to answer 400 rather than 404 for a key that cannot be one.
        """
        if not looks_like_account_key(account):
            raise BadRequest("invalid account public key", "invalid_key")
        epoch = self._epoch
        try:
            entry = await self._read(account)
        except AccountNotFound:
            if not is_account_key(account):
                raise BadRequest("invalid account public key", "invalid_key") from None
            raise
        if epoch == self._epoch:
            self.cache.put(entry)
        return entry

    async def _read(self, account: str) -> CachedAccount:
        """The store's current record of ``account`` as an entry (not cached)."""
        try:
            record = await self.store.get(AccountKey(account))
        except NotFound:
            raise AccountNotFound() from None
        except StoreError as exc:
            raise Unavailable("error loading JWT", "store_error") from exc
        try:
            return entry_of(record)
        except DecodeError as exc:
            # A file placed in the store by another tool may be anything; never a 500.
            raise AccountNotFound(f"stored JWT cannot be decoded: {exc.message}", "bad_stored_jwt") from None

    def forget(self, account: str) -> None:
        """Drop a cached entry (the store changed underneath, e.g. another instance wrote it)."""
        self._epoch += 1
        self.cache.forget(account)

    async def page(self, after: str | None = None, limit: int = 100) -> tuple[list[CachedAccount], str | None]:
        """Up to ``limit`` stored accounts after ``after``, by key, and the key to continue after.

        Read past the cache, and not added to it: walking a million accounts must not evict the hot ones.
        """
        try:
            keys = await self.store.list(after=AccountKey(after) if after else None, limit=limit + 1)
        except StoreError as exc:
            raise Unavailable("error listing accounts", "store_error") from exc
        more = len(keys) > limit
        keys = keys[:limit]
        async def one(key: str) -> CachedAccount | None:
            try:
                return self.cache.peek(key) or await self._read(key)
            except AccountNotFound:  # deleted meanwhile, or a file that does not decode
                return None

        found = await asyncio.gather(*(one(key) for key in keys))  # a shared store reads them at once
        return [e for e in found if e is not None], (keys[-1] if more and keys else None)

    async def walk(self, page: int = PAGE_MAX) -> AsyncIterator[list[CachedAccount]]:
        """Every stored account, a page at a time."""
        after: str | None = None
        while True:
            entries, after = await self.page(after, page)
            if entries:
                yield entries
            if after is None:
                return

    async def pack(self, limit: int) -> list[CachedAccount]:
        """Up to ``limit`` unexpired accounts, sorted by key (``GET /jwt/v1/pack``)."""
        now = self.clock()
        out: list[CachedAccount] = []
        async for entries in self.walk(min(PAGE_MAX, max(limit, 1))):
            out += [e for e in entries if not (0 < e.exp < now)]
            if len(out) >= limit:
                break
        return out[:limit]

    # --- writes ------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _lock(self, account: str) -> AsyncIterator[None]:
        """One write at a time per account; the lock lives only while someone holds or waits for it."""
        lock, users = self._locks.get(account) or (asyncio.Lock(), 0)
        self._locks[account] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[account]
            if users == 1:
                del self._locks[account]
            else:
                self._locks[account] = (lock, users - 1)

    async def put(self, token: str | bytes, path_key: str | None = None, *,
                  attempt: Attempt | None = None) -> PutResult:
        """Accept an account JWT: the checks and messages of nats-account-server, plus accountd's.

        ``attempt`` says how it arrived (its origin goes into the account's history) and gets what
        was learnt (account, ``jti``, ``iat``, revision) for the audit log. On a shared store
        (several instances) the compare-and-set can lose to another instance: read and judge
        again, so that of two concurrent versions the newer one is kept and the older one is
        answered 409 stale.
        """
        attempt = attempt if attempt is not None else Attempt("put")
        attempt.account = attempt.account or path_key
        for _ in range(CAS_ATTEMPTS - 1):
            try:
                return await self._put_once(token, path_key, attempt)
            except StaleJWT as exc:
                if exc.code != "conflict":
                    raise
        return await self._put_once(token, path_key, attempt)

    async def _put_once(self, token: str | bytes, path_key: str | None, attempt: Attempt) -> PutResult:
        try:
            claims = decode_account(token)
        except DecodeError as exc:
            self.counters["rejected"] += 1
            raise BadRequest("bad JWT in request", exc.code) from None
        if path_key is not None and path_key != claims.sub:
            self.counters["rejected"] += 1
            raise BadRequest("pub keys don't match", "subject_mismatch")
        if public_role(claims.iss) not in (Role.ACCOUNT, Role.OPERATOR):
            raise BadRequest("bad JWT Issuer in request", "issuer_role")
        if not is_account_key(claims.sub):
            raise BadRequest("bad JWT Subject in request", "invalid_key")
        account = AccountKey(claims.sub)
        attempt.account, attempt.jti, attempt.iat = account, claims.jti, claims.iat
        origin = attempt.origin
        async with self._lock(account):
            try:
                current = await self.store.lookup(account)
            except StoreError as exc:
                raise Unavailable("error saving JWT", "store_error") from exc
            notes: tuple[str, ...] = ()
            meta: dict[str, int | str]
            text = token.decode("ascii", "replace") if isinstance(token, bytes) else token
            posted = JWT("".join(text.split()))
            if self.trust.is_operator_key(claims.iss) or public_role(claims.iss) is Role.OPERATOR:
                self._validate(claims)  # an untrusted operator key fails here, before anything else
                if current is not None:
                    if not current.deleted and current.jwt == posted:
                        return await self._unchanged(account, attempt)
                    self._check_newer(claims, current)
                jwt = posted
                meta = meta_of(claims)
            else:
                fingerprint = hashlib.sha256(posted.encode()).hexdigest()
                if current is not None and not current.deleted and current.meta.get("self_sha256") == fingerprint:
                    return await self._unchanged(account, attempt)
                notes, meta = self._managed(claims, current)
                origin = managed_origin(origin)
                meta["self_sha256"] = fingerprint
                assert self.signer is not None
                jwt = encode(claims, self.signer, now=max(int(self.clock()), claims.iat))
                self._validate(claims)
                meta.update(meta_of(claims))
            try:
                self._epoch += 1
                record = await self.store.put(
                    account, jwt, meta=meta, expect=current.revision if current else 0, origin=origin
                )
            except Conflict as exc:
                raise StaleJWT("the account changed concurrently; retry", "conflict") from exc
            except StoreError as exc:
                raise Unavailable("error saving JWT", "store_error") from exc
            entry = entry_of(record)
            self._epoch += 1
            self.cache.put(entry)
            self.counters["puts"] += 1
        attempt.origin, attempt.revision, attempt.jti, attempt.iat = origin, entry.revision, entry.jti, entry.iat
        attempt.message = "; ".join(notes) or "stored"
        self.on_change()
        return PutResult(account, True, entry, notes)

    async def _unchanged(self, account: AccountKey, attempt: Attempt) -> PutResult:
        """An identical re-POST: no write, no publish."""
        self.counters["unchanged"] += 1
        entry = await self.get(account)
        attempt.revision, attempt.message = entry.revision, "unchanged"
        return PutResult(account, False, entry)

    def _check_newer(self, claims: AccountClaims, current: Record) -> None:
        """Newer-iat-wins (equal iat is accepted, as nats-server's save-if-newer does)."""
        if current.deleted:
            tomb = int(current.meta.get("iat", 0))
            if claims.iat <= tomb:
                self.counters["stale"] += 1
                raise StaleJWT(f"stale JWT: iat {claims.iat} is not newer than the deletion at {tomb}")
            return
        cached = self.cache.peek(current.account)
        try:
            stored = cached if cached and cached.revision == current.revision else entry_of(current)
        except DecodeError:
            return  # an undecodable stored file is overwritten, as nats-server does
        if stored.is_newer_than(claims.iat, claims.jti):
            self.counters["stale"] += 1
            raise StaleJWT(f"stale JWT: iat {claims.iat} is older than stored iat {stored.iat}")

    def _validate(self, claims: AccountClaims) -> None:
        if not self.trust.is_operator_key(claims.iss):
            self.counters["rejected"] += 1
            raise BadRequest("untrusted issuer in request", "untrusted_issuer")
        self._raise_invalid(validate_account(claims, self.trust, now=self.clock(), skew=self.skew))

    def _raise_invalid(self, result: Validation) -> None:
        if not result.ok:
            self.counters["rejected"] += 1
            body = VALIDATION_HEADER + "".join(f"\n\t - {i.message}\n" for i in result.blocking) + "\n"
            first = result.blocking[0]
            raise BadRequest(f"{VALIDATION_HEADER} {first.message}", first.code, body=body)

    # --- managed mode ------------------------------------------------------------------------

    def _managed(
        self, claims: AccountClaims, current: Record | None
    ) -> tuple[tuple[str, ...], dict[str, int | str]]:
        """Re-sign an account-signed JWT with the operator signing key, if policy allows."""
        try:
            return self.managed.admit(claims, current, now=self.clock(), skew=self.skew,
                                      raise_invalid=self._raise_invalid)
        except StaleJWT:
            self.counters["stale"] += 1
            raise

    # --- deletes -----------------------------------------------------------------------------

    def check_delete(self, token: str | bytes) -> tuple[GenericClaims, list[str]]:
        """The delete token's rules (nats-server's ``handleDeleteRequest`` plus a replay guard)."""
        try:
            claims = decode_generic(token)
        except DecodeError as exc:
            raise BadRequest(f"malformed request: {exc.message}", exc.code) from None
        if claims.sub != claims.iss:
            raise Forbidden("not self signed", "not_self_signed")
        if not self.trust.is_operator_key(claims.iss):
            raise Forbidden("not trusted", "untrusted_issuer")
        accounts = claims.nats.get("accounts")
        if not isinstance(accounts, list) or not accounts or not all(is_account_key(a) for a in accounts):
            raise BadRequest("malformed request", "malformed_request")
        if self.trust.system_account and self.trust.system_account in accounts:
            raise Forbidden("not allowed to delete system account", "system_account")
        now = self.clock()
        if claims.iat > now + max(self.skew, 5) or claims.iat < now - DELETE_MAX_AGE:
            raise Forbidden("stale delete request", "stale_delete")
        if not self.allow_delete:
            raise Forbidden("delete must be enabled in server config", "delete_disabled")
        return claims, [str(a) for a in accounts]

    async def delete(self, token: str | bytes, path_key: str | None = None, *,
                     attempt: Attempt | None = None) -> int:
        """Delete every listed stored account; leaves tombstones carrying the token's ``iat``
        (``attempt`` as for :meth:`put`)."""
        attempt = attempt if attempt is not None else Attempt("delete")
        attempt.account = attempt.account or path_key
        claims, accounts = self.check_delete(token)
        attempt.jti, attempt.iat, attempt.accounts = claims.jti, claims.iat, accounts
        if attempt.account is None and len(accounts) == 1:
            attempt.account = accounts[0]
        if path_key is not None:
            if path_key not in accounts:
                raise BadRequest("malformed request: the token does not list this account", "malformed_request")
            try:
                await self.store.get(AccountKey(path_key))
            except NotFound:
                raise AccountNotFound() from None
            except StoreError as exc:
                raise Unavailable("error deleting JWT", "store_error") from exc
        raw = JWT("".join((token.decode() if isinstance(token, bytes) else token).split()))
        deleted = 0
        for account in accounts:
            async with self._lock(account):
                try:
                    current = await self.store.lookup(AccountKey(account))
                    if current is None or current.deleted:
                        continue
                    self._epoch += 1
                    tomb = await self.store.delete(AccountKey(account), raw, meta={"iat": claims.iat},
                                                   expect=current.revision, origin=attempt.origin)
                except (NotFound, Conflict):
                    continue
                except StoreError as exc:
                    raise Unavailable("error deleting JWT", "store_error") from exc
                self.forget(account)
                deleted += 1
                if account == attempt.account:
                    attempt.revision = tomb.revision
        attempt.message = f"deleted {deleted} accounts"
        self.counters["deletes"] += deleted
        if deleted:
            self.on_change()
        return deleted

    # --- introspection -----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {"cached": len(self.cache), **self.cache.stats(), **self.counters}
