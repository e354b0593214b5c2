"""Query parameters of the JSON routes: numbers in a range, or a 400 that names the parameter."""

from __future__ import annotations

import math
from collections.abc import Mapping

from accountd.claims import is_account_key
from accountd.errors import BadRequest

__all__ = ["account_param", "float_param", "int_param"]


def int_param(query: Mapping[str, str], name: str, default: int | None, low: int = 1,
              high: int | None = None) -> int | None:
    """``query[name]`` as an integer in ``low..high``; ``default`` when absent or empty."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"bad {name} parameter {raw!r}", "bad_parameter") from None
    if value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise BadRequest(f"{name} must be {span}", "bad_parameter")
    return value


def float_param(query: Mapping[str, str], name: str) -> float | None:
    """``query[name]`` as a finite number (unix seconds, say); ``None`` when absent or empty."""
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise BadRequest(f"bad {name} parameter {raw!r}", "bad_parameter")
    return value


def account_param(query: Mapping[str, str], name: str) -> str | None:
    """``query[name]`` as an account public key; ``None`` when absent or empty."""
    raw = query.get(name) or None
    if raw is not None and not is_account_key(raw):
        raise BadRequest(f"invalid account public key in {name}", "invalid_key")
    return raw
