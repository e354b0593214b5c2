"""Throughput of the claims core on one core: encode and decode+verify of account JWTs.

Run ``python -m bench.claims`` (``make bench-claims``); it prints a markdown table for BENCHMARKS.md.

* **encode** — ``accountd.claims.encode``: jti, Go JSON, ed25519 signature by the operator key.
* **decode+verify** — ``decode_account``: header, version, signature and issuer-role checks, typed
  claims. Each call does a real ed25519 verification; nothing caches a token or its result (only
  the per-key verifier object is reused, as for any issuer seen before).
* **decode+verify+validate** — ``check_account_token`` against a :class:`Trust`: the above plus
  trust, time and structural checks, as the HTTP API runs them.
* **ed25519 verify alone** — PyNaCl/libsodium verifying the same signature: the ceiling for
  decode+verify on this machine.

The account is a realistic one: limits with JetStream, a signing key, two exports, one import,
two revocations, tags. Each figure is the best of ``--repeat`` runs, so that other load on the
machine disturbs it less; the process is pinned to one CPU where the OS allows it.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import nacl.signing

from accountd.claims import (
    AccountClaims,
    Export,
    Import,
    Role,
    Trust,
    check_account_token,
    create,
    decode_account,
    decode_public,
    encode,
    new_account,
    new_operator,
)


def _account() -> AccountClaims:
    account = create(Role.ACCOUNT)
    claims = new_account(account.public_key, "ORDERS")
    acc = claims.nats
    acc.limits.conn = 100
    acc.limits.subs = 1000
    acc.limits.mem_storage = 1 << 30
    acc.limits.disk_storage = 10 << 30
    acc.limits.streams = 10
    acc.limits.consumer = 100
    acc.signing_keys = [create(Role.ACCOUNT).public_key]
    acc.exports = [
        Export(name="orders", subject="orders.>", type="stream"),
        Export(name="lookup", subject="orders.lookup.*", type="service", response_type="Singleton"),
    ]
    acc.imports = [Import(name="billing", subject="billing.events.>", account=create(Role.ACCOUNT).public_key,
                          type="stream")]
    acc.revocations = {create(Role.USER).public_key: 1_700_000_000, "*": 1_600_000_000}
    acc.tags = ["team:orders", "env:prod"]
    acc.description = "Order processing & fulfilment <prod>"
    return claims


def _best(fn: Callable[[], object], n: int, repeat: int) -> float:
    """Best throughput (ops/s) of ``repeat`` runs of ``n`` calls."""
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = max(best, n / (time.perf_counter() - start))
    return best


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.claims", description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--iterations", type=int, default=20_000)
    parser.add_argument("-r", "--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    n, repeat = args.iterations, args.repeat

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    operator, op_sk = create(Role.OPERATOR), create(Role.OPERATOR)
    op_claims = new_operator(operator.public_key, "OP")
    op_claims.nats.signing_keys = [op_sk.public_key]
    trust = Trust.from_jwts(encode(op_claims, operator))
    claims = _account()
    token = encode(claims, op_sk)

    head, _, sig = token.rpartition(".")
    signing_input, raw_sig = head.encode(), base64.urlsafe_b64decode(sig + "==")
    vk = nacl.signing.VerifyKey(decode_public(op_sk.public_key)[1])

    _, validation = check_account_token(token, trust)
    assert validation.ok, validation
    rows = [
        ("encode (sign)", _best(lambda: encode(claims, op_sk), n, repeat)),
        ("decode+verify", _best(lambda: decode_account(token), n, repeat)),
        ("decode+verify+validate", _best(lambda: check_account_token(token, trust), n, repeat)),
        ("ed25519 verify alone", _best(lambda: vk.verify(signing_input, raw_sig), n, repeat)),
    ]

    print(f"Account JWT of {len(token)} bytes; {n} iterations, best of {repeat}; one core.")
    print(f"Machine: {_cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}.")
    print("Aim (issue 2): decode+verify >= 20,000 per second.")
    print()
    print("| operation | per second | µs per op |")
    print("|---|---:|---:|")
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} | {1e6 / rate:.1f} |")


if __name__ == "__main__":
    main()
