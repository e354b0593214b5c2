"""Admin bearer tokens in a file: one per line, blank lines and ``#`` comments ignored.

Several lines are several valid tokens at once, so a new token can be added, clients moved over,
and the old one removed (``accountd serve`` re-reads the file on SIGHUP). Clients of admin routes
(``accountd fleet``, ``pull``, the resolver daemon) send the first token of the same file.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["TokenFileError", "first_token", "read_tokens"]


class TokenFileError(ValueError):
    """The token file cannot be read or holds no token; the message says which file and why."""


def read_tokens(path: str | Path) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TokenFileError(f"cannot read admin token file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TokenFileError(f"admin token file {path} is not UTF-8 text") from None
    tokens = [line.strip() for line in text.splitlines()]
    tokens = [t for t in tokens if t and not t.startswith("#")]
    if not tokens:
        raise TokenFileError(f"admin token file {path} holds no token (one per line; # starts a comment)")
    bad = [i for i, t in enumerate(tokens, 1) if any(c.isspace() for c in t) or not t.isprintable()]
    if bad:
        raise TokenFileError(f"admin token file {path}: token {bad[0]} contains spaces or control characters")
    return tokens


def first_token(path: str | Path) -> str:
    """The token a client sends: the first one in the file."""
    return read_tokens(path)[0]
