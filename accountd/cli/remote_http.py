"""The account server's HTTP API as push/pull use it (SPEC §6, §8.1).

``POST <base>/accounts/<pub>`` (body: the JWT), ``GET <base>/accounts/<pub>``,
``GET <base>/accounts?list=true`` (accountd's list, read a page at a time; an admin route, so it carries the admin
token when one is given), ``DELETE <base>/accounts/<pub>`` (body: an operator-signed delete request). Every request
has a timeout (nsc's push has none).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from accountd import __version__

__all__ = ["HttpRemote", "RemoteError", "Response"]


class RemoteError(Exception):
    """The server could not be reached (or answered garbage): what happened and what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Response:
    status: int
    body: str

    @property
    def quoted(self) -> str:
        """The body as nsc prints it: each line prefixed with ``> ``."""
        return "\n".join(f"> {line}" for line in self.body.strip().splitlines())


class HttpRemote:
    def __init__(self, base: str, timeout: float = 10.0, *, token: str | None = None) -> None:
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.token = token

    def account_url(self, public_key: str) -> str:
        return f"{self.base}/accounts/{public_key}"

    def _call(self, method: str, url: str, body: bytes | None = None, *, admin: bool = False) -> Response:
        headers = {"User-Agent": f"accountd/{__version__}"}
        if admin and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            headers["Content-Type"] = "application/jwt"
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                return Response(resp.status, resp.read().decode("utf-8", errors="replace"))
        except urllib.error.HTTPError as exc:
            return Response(exc.code, exc.read().decode("utf-8", errors="replace"))
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RemoteError(
                f"cannot reach the account server at {self.base}: {reason}",
                "is `accountd serve` running there? pass --url, or set the operator's account_server_url "
                "(`accountd edit operator --account-server-url URL`)",
            ) from None

    def push(self, public_key: str, token: str) -> Response:
        return self._call("POST", self.account_url(public_key), token.encode())

    def get(self, public_key: str) -> Response:
        return self._call("GET", self.account_url(public_key))

    def delete(self, public_key: str, request_token: str) -> Response:
        return self._call("DELETE", self.account_url(public_key), request_token.encode())

    @property
    def root(self) -> str:
        """The server's own root (``<base>`` without ``/jwt/v1``), where the ``/-/`` routes are."""
        return self.base[: -len("/jwt/v1")] if self.base.endswith("/jwt/v1") else self.base

    def admin_json(self, path: str) -> Any:
        """``GET <root><path>`` of an admin route, with the admin token; the JSON document."""
        resp = self._call("GET", self.root + path, admin=True)
        if resp.status in (401, 403):
            raise RemoteError(f"{self.root}{path.split('?')[0]} was refused: HTTP {resp.status} {resp.body.strip()}",
                              "this is an admin route: pass --admin-token-file (or run on accountd's host)")
        if resp.status != 200:
            raise RemoteError(f"{self.root}{path.split('?')[0]}: HTTP {resp.status} {resp.body.strip()}",
                              "is this accountd serve (with history), and is the account stored there?")
        try:
            return json.loads(resp.body)
        except ValueError:
            raise RemoteError(f"{self.root}{path} did not answer with JSON", "pass accountd's URL") from None

    def account_pages(self, limit: int = 1000) -> Iterator[list[dict[str, Any]]]:
        """The stored accounts, one page of at most ``limit`` at a time, sorted by key, following
        ``next`` (accountd's ``?list=true``); only one page is held at a time."""
        after = ""
        while True:
            url = f"{self.base}/accounts?list=true&limit={limit}" + (f"&after={after}" if after else "")
            resp = self._call("GET", url, admin=True)
            if resp.status in (401, 403):
                raise RemoteError(f"listing accounts at {self.base} was refused: HTTP {resp.status} "
                                  f"{resp.body.strip()}", "listing is an admin route: pass --admin-token-file")
            if resp.status != 200:
                raise RemoteError(f"listing accounts at {self.base} failed: HTTP {resp.status} {resp.body.strip()}",
                                  "prune over HTTP needs accountd serve (nats-account-server cannot list)")
            try:
                doc = json.loads(resp.body)
                page = [a for a in doc["accounts"] if isinstance(a, dict) and isinstance(a.get("account"), str)]
                following = str(doc.get("next") or "")
            except (ValueError, KeyError, TypeError):
                hint = "prune over HTTP needs accountd serve; use --transport nats for nats-server"
                raise RemoteError(f"{url} did not answer with accountd's account list", hint) from None
            if page:
                yield page
            if not following or following <= after:
                return  # the last page (a cursor that does not move on would loop forever)
            after = following

    def list_accounts(self, limit: int = 1000) -> Iterator[dict[str, Any]]:
        """Every stored account, read a page at a time (:meth:`account_pages`)."""
        for page in self.account_pages(limit):
            yield from page
