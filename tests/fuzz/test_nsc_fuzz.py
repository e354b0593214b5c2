"""The nsc-store reader under damaged files: every read ends in data or an ``NscError`` with a hint."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from accountd.claims import ClaimsError, parse_creds
from accountd.nsc import Home, NscError
from nsc.test_layout import nsc_tree

from .strategies import mutate

TARGETS = [
    "stores/OP/.nsc",
    "stores/OP/OP.jwt",
    "stores/OP/accounts/A/A.jwt",
    "stores/OP/accounts/A/users/U.jwt",
    "stores/OP/accounts/SYS/SYS.jwt",
    "keys/creds/OP/A/U.creds",
]


@st.composite
def damage(draw: st.DrawFn, original: str) -> bytes:
    how = draw(st.sampled_from(["bytes", "mutate", "truncate", "empty"]))
    if how == "bytes":
        return draw(st.binary(max_size=400))
    if how == "mutate":
        return mutate(draw, original).encode()
    if how == "truncate":
        return original[: draw(st.integers(0, len(original)))].encode()
    return b""


def read_everything(root: Path) -> None:
    home = Home(root).require()
    for name in home.operators():
        op = home.pick_operator(name)
        op.info()
        op.operator()
        for account in op.accounts():
            entity = op.account(account)
            home.keystore.load(entity.public_key)
            for user in op.users(account):
                op.user(account, user)
    for _, _, _, path in home.keystore.iter_creds():
        try:
            parse_creds(path)
        except (ClaimsError, UnicodeDecodeError):
            pass  # a damaged creds file is reported by whoever uses it


@given(st.sampled_from([*TARGETS, "seed"]), st.data())
def test_a_damaged_file_reads_or_raises_nsc_error(target: str, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = nsc_tree(Path(tmp))
        path = next((root / "keys" / "keys").rglob("*.nk")) if target == "seed" else root / target
        path.write_bytes(data.draw(damage(path.read_text())))
        try:
            read_everything(root)
        except NscError as exc:
            assert exc.message and exc.hint
