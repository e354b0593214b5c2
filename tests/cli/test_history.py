"""``history``, ``diff`` and ``rollback`` against a real ``accountd serve`` and a real nats-server.

The home holds the Go-made ``signing`` vectors: account A (``limits.conn = 5``, signed by the
operator's signing key) is pushed as it is, raised to 9, then rolled back. The rolled-back JWT is
the Go vector with a new ``iat`` — re-encoded with the vector's ``iat`` it is the vector byte for
byte — and nats-server enforces ``conn = 5`` again.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest

from accountd.claims import decode_account, encode, load_seed
from accountd.config import Settings
from accountd.natsserver import NatsServer, free_port
from accountd.server import Server
from cli.helpers import Cli
from harness import NatsFactory, operator_mode_config
from nsc.test_layout import nsc_tree

VECTORS = Path(__file__).parent.parent / "vectors" / "signing"
SUMMARY = json.loads((VECTORS / "summary.json").read_text())
LIMIT_ERROR = "maximum account active connections exceeded"


async def _open(url: str, creds: Path, n: int) -> tuple[list[Any], str | None]:
    """Open up to ``n`` connections; the ones that opened, and the refusal if one was refused."""
    conns: list[Any] = []
    for _ in range(n):
        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc))  # noqa: B023 - consumed before the next iteration

        try:
            conns.append(await nats.connect(url, user_credentials=str(creds), allow_reconnect=False,
                                            max_reconnect_attempts=0, connect_timeout=2, error_cb=on_error))
        except Exception as exc:
            return conns, "; ".join([*errors, str(exc)])
    return conns, None


async def _limit_becomes(url: str, creds: Path, limit: int) -> None:
    """Wait until nats-server admits exactly ``limit`` connections of the account (bounded)."""
    for _ in range(100):
        conns, refused = await _open(url, creds, limit + 1)
        for nc in conns:
            await nc.close()
        if len(conns) == limit and refused is not None and LIMIT_ERROR in refused:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"nats-server never enforced conn = {limit}")


@pytest.fixture
async def served(tmp_path: Path, nats_factory: NatsFactory) -> AsyncIterator[tuple[Cli, str, NatsServer]]:
    home = nsc_tree(tmp_path / "home", "signing")
    nats_port = free_port()
    settings = Settings(listen=f"127.0.0.1:{free_port()}", operator=str(VECTORS / "operator.jwt"), store="memory:",
                        nats=[f"nats://127.0.0.1:{nats_port}"], creds=str(VECTORS / "sys.creds"))
    server = Server(settings)
    await server.start()
    host, port = server.address
    url = f"http://{host}:{port}"
    config = operator_mode_config(VECTORS / "operator.jwt", SUMMARY["system_account"]["public_key"],
                                  f"URL({url}/jwt/v1/accounts/)")
    nats_server = await asyncio.to_thread(nats_factory, config, port=nats_port)
    assert server.bus is not None and await server.bus.wait_connected(15)
    yield Cli(home), url, nats_server
    await server.close()


def _claims_without_iat_jti(token: str) -> dict[str, Any]:
    doc = decode_account(token).to_go()
    doc.pop("iat"), doc.pop("jti")
    return doc


async def test_history_diff_and_rollback_to_the_go_made_version(served: tuple[Cli, str, NatsServer],
                                                                tmp_path: Path) -> None:
    cli, url, nats_server = served
    creds = tmp_path / "U.creds"
    shutil.copy(VECTORS / "U.creds", creds)
    vector = (VECTORS / "A.jwt").read_text().strip()

    async def run(*args: str) -> Any:
        return await asyncio.to_thread(cli.json, *args)

    await run("push", "--account", "SYS", "--url", f"{url}/jwt/v1")
    await run("push", "--account", "A", "--url", f"{url}/jwt/v1")
    await _limit_becomes(nats_server.url, creds, 5)
    await run("edit", "account", "--name", "A", "--conn", "9")
    await run("push", "--account", "A", "--url", f"{url}/jwt/v1")
    await _limit_becomes(nats_server.url, creds, 9)

    doc = await run("history", "--account", "A", "--url", url)
    versions = doc["versions"]
    assert [v["jwt"] == vector for v in versions] == [False, True]
    assert all(v["source"]["via"] == "http" and v["source"]["client"] == "127.0.0.1" for v in versions)
    first = versions[1]["revision"]
    by_key = await run("history", "--account", SUMMARY["account"]["public_key"], "--url", url)
    assert by_key["versions"] == versions

    changes = await run("diff", "--account", "A", "--url", url)
    assert "limits.conn: 5 -> 9" in changes["lines"]
    assert "limits.conn: 5 -> 9" in (await asyncio.to_thread(cli, "diff", "--account", "A", "--url", url)).stdout

    rolled = await run("rollback", "--account", "A", "--to", str(first), "--yes", "--url", url)
    assert "limits.conn: 9 -> 5" in rolled["changes"]
    token = (cli.opdir / "accounts" / "A" / "A.jwt").read_text().strip()
    assert rolled["written"] and rolled["jti"] == decode_account(token).jti
    new, old = decode_account(token), decode_account(vector)
    assert new.iat > decode_account(versions[0]["jwt"]).iat
    assert _claims_without_iat_jti(token) == _claims_without_iat_jti(vector)
    # The same claims signed with the vector's iat are the Go library's JWT, byte for byte.
    new.iat = old.iat
    signer = load_seed(SUMMARY["operator_signing_key"]["seed"])
    assert encode(new, signer, now=old.iat) == vector
    after = await run("history", "--account", "A", "--url", url)
    assert after["versions"][0]["jwt"] == token
    await _limit_becomes(nats_server.url, creds, 5)


async def test_rollback_refuses_an_unknown_revision_and_a_deletion_and_asks_first(
    served: tuple[Cli, str, NatsServer],
) -> None:
    cli, url, _ = served
    await asyncio.to_thread(cli.json, "push", "--account", "A", "--url", f"{url}/jwt/v1")
    missing = await asyncio.to_thread(cli, "rollback", "--account", "A", "--to", "999", "--yes", "--url", url,
                                      code=1)
    assert "999" in missing.stderr
    current = (await asyncio.to_thread(cli.json, "history", "--account", "A", "--url", url))["versions"][0]
    before = (cli.opdir / "accounts" / "A" / "A.jwt").read_bytes()
    # Nobody answers the question (no terminal input): nothing is pushed or written.
    await asyncio.to_thread(cli, "rollback", "--account", "A", "--to", str(current["revision"]), "--url", url, code=1)
    assert (cli.opdir / "accounts" / "A" / "A.jwt").read_bytes() == before
    after = (await asyncio.to_thread(cli.json, "history", "--account", "A", "--url", url))["versions"]
    assert after[0]["revision"] == current["revision"]
