"""``.creds`` files: written byte-identical to Go's ``FormatUserConfig``, read liberally (SPEC §2.6)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from accountd.claims.codec import decode_user
from accountd.claims.errors import ClaimsError
from accountd.claims.keys import KeyPair, Role, Secret, load_seed
from accountd.types import JWT

__all__ = ["Creds", "decorate_jwt", "format_creds", "parse_creds"]

_NOTICE = (
    "************************* IMPORTANT *************************\n"
    "NKEY Seed printed below can be used to sign and prove identity.\n"
    "NKEYs are sensitive and should be treated as secrets.\n"
)
_BLOCK = re.compile(r"\s*(?:(?:[-]{3,}.*[-]{3,}\r?\n)([\w\-.=]+)(?:\r?\n[-]{3,}.*[-]{3,}(\r?\n|\Z)))", re.M)


@dataclass(frozen=True)
class Creds:
    """A user JWT and its seed. The seed stays wrapped in :class:`Secret`."""

    jwt: JWT
    seed: Secret

    def key_pair(self) -> KeyPair:
        return load_seed(self.seed, Role.USER)


def format_creds(user_jwt: str, seed: Secret | str) -> str:
    """The exact bytes Go's ``jwt.FormatUserConfig`` writes (and nsc stores)."""
    seed_text = seed.reveal() if isinstance(seed, Secret) else seed
    claims = decode_user(user_jwt)
    if not seed_text.startswith("SU"):
        raise ClaimsError("invalid_key", "creds need a user seed (SU…)")
    if load_seed(seed_text, Role.USER).public_key != claims.sub:
        raise ClaimsError("subject_mismatch", "the seed does not belong to the user in the JWT")
    return (
        f"-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n"
        f"{_NOTICE}\n"
        f"-----BEGIN USER NKEY SEED-----\n{seed_text}\n------END USER NKEY SEED------\n\n"
        f"{'*' * 61}\n"
    )


def decorate_jwt(token: str, kind: str) -> str:
    """Go's ``DecorateJWT``: an armored block (``nsc describe --raw``)."""
    kind = kind.upper()
    return f"-----BEGIN NATS {kind} JWT-----\n{token}\n------END NATS {kind} JWT------\n\n"


def parse_creds(source: str | bytes | Path) -> Creds:
    """Parse creds written by nsc, the nats CLI, Go or the JS library (CRLF, short tails OK).

    Without armor the whole input is taken as the JWT and the seed is searched for by its
    ``SU`` prefix, as Go does.
    """
    text = source.read_text() if isinstance(source, Path) else (
        source.decode() if isinstance(source, bytes) else source
    )
    blocks = [m.group(1) for m in _BLOCK.finditer(text)]
    token: str | None = blocks[0] if blocks else None
    seed: str | None = blocks[1] if len(blocks) > 1 else None
    if token is None:
        stripped = text.strip()
        first = stripped.split()[0] if stripped else ""
        token = first if first.startswith("eyJ") else None
    if seed is None:
        for line in text.replace("\r", "").split("\n"):
            if line.strip().startswith(("SU", "SA", "SO")):
                seed = line.strip()
                break
    if not token:
        raise ClaimsError("bad_encoding", "no user JWT found in creds")
    if not seed:
        raise ClaimsError("bad_encoding", "no nkey seed found in creds")
    claims = decode_user(token)
    kp = load_seed(seed)
    if kp.public_key != claims.sub:
        raise ClaimsError("subject_mismatch", "the seed in the creds does not belong to its user JWT")
    return Creds(JWT(token), kp.seed)
