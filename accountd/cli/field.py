"""nsc's ``describe --field PATH``: one value of a JWT's decoded payload, printed as JSON.

A path is keys separated by dots, with ``[N]`` for list items: ``nats.limits.conn``,
``nats.signing_keys[0]``, ``nats.exports[1].subject`` (``nats-io/nsc: cmd/jsonpath.go``). A key
that is not there gives ``null``, as nsc prints it. The value is printed the way Go's
``json.Marshal`` writes it: compact, object keys sorted, ``<``, ``>`` and ``&`` escaped.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Final

import click

from accountd.claims import gojson

__all__ = ["field_option", "go_json", "select_field"]

_INDEX: Final = re.compile(r"^([^\[\]]*)\[(-?\d+)\]$")

field_option = click.option("--field", "-F", metavar="PATH",
                            help="Print one value of the decoded JWT as JSON (nats.limits.conn, "
                                 "nats.signing_keys[0], …).")


def _tokens(path: str) -> list[str | int]:
    out: list[str | int] = []
    for part in path.split("."):
        m = _INDEX.match(part)
        if "[" in part and not m:
            raise click.BadParameter(f"bad path: unterminated or invalid index expression {part!r} in {path!r}",
                                     param_hint="--field")
        if m:
            if m.group(1):
                out.append(m.group(1))
            out.append(int(m.group(2)))
        else:
            out.append(part)
    return out


def select_field(token: str, path: str) -> Any:
    """The value at ``path`` in the payload of ``token`` (None where a key is missing)."""
    body = token.split(".")[1]
    value: Any = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    for t in _tokens(path):
        if isinstance(value, dict):
            value = value.get(str(t))
        elif isinstance(value, list) and isinstance(t, int):
            if not 0 <= t < len(value):
                raise click.BadParameter(f"index {t} is out of bounds in {path!r} ({len(value)} items)",
                                         param_hint="--field")
            value = value[t]
        else:
            raise click.BadParameter(f"unable to extract {t!r} in {path!r} from {json.dumps(value)}",
                                     param_hint="--field")
    return value


def _sorted(value: Any) -> Any:
    """Go decodes into ``map[string]interface{}``, so every object comes out with sorted keys."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def go_json(value: Any) -> str:
    return gojson.dumps(_sorted(value))
