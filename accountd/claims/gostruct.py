"""Dataclasses that read and write JSON the way Go's structs do.

A :class:`GoStruct` subclass declares its fields in Go's declaration order; encoding follows that
order and Go's ``omitempty`` rule (false, 0, "", None and empty lists/maps are dropped — nested
struct values never are). Decoding mirrors Go: keys match case-insensitively, absent fields get
the Go **zero value** (not the dataclass default: an account without ``limits.conn`` has conn 0),
and wrong JSON types are errors. Unlike Go, keys this code does not know are kept in ``extra``
and written back, so re-encoding never drops a field a newer library added.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any, Self

from accountd.claims.errors import DecodeError

__all__ = ["GoStruct", "go"]

Decoder = Callable[[Any, str], Any]
Encoder = Callable[[Any], Any]


def go(
    default: Any = dataclasses.MISSING,
    *,
    key: str | None = None,
    omitempty: bool = True,
    decode: Decoder | None = None,
    encode: Encoder | None = None,
    factory: Callable[[], Any] | None = None,
) -> Any:
    """A field with its JSON key, omitempty flag and optional custom codec."""
    meta = {"key": key, "omitempty": omitempty, "decode": decode, "encode": encode}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _fail(path: str, want: str, value: Any) -> DecodeError:
    got = "null" if value is None else type(value).__name__
    return DecodeError("bad_encoding", f"{path}: expected {want}, got {got}")


def _decoder_for(tp: Any) -> tuple[Decoder, Callable[[], Any]]:
    """(decoder, zero-value factory) for a type annotation."""
    origin = typing.get_origin(tp)
    if tp is int:

        def dec_int(v: Any, path: str) -> int:
            if isinstance(v, bool) or not isinstance(v, int):
                raise _fail(path, "an integer", v)
            return v

        return dec_int, int
    if tp is str:

        def dec_str(v: Any, path: str) -> str:
            if not isinstance(v, str):
                raise _fail(path, "a string", v)
            return v

        return dec_str, str
    if tp is bool:

        def dec_bool(v: Any, path: str) -> bool:
            if not isinstance(v, bool):
                raise _fail(path, "a boolean", v)
            return v

        return dec_bool, bool
    if tp is Any:
        return (lambda v, path: v), lambda: None
    if isinstance(tp, type) and issubclass(tp, GoStruct):
        struct = tp
        return (lambda v, path: struct.from_go(v, path)), lambda: struct.from_go({})
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner, _ = _decoder_for(args[0])
        return (lambda v, path: None if v is None else inner(v, path)), lambda: None
    if origin is list:
        elem, _ = _decoder_for(typing.get_args(tp)[0])

        def dec_list(v: Any, path: str) -> list[Any]:
            if v is None:
                return []
            if not isinstance(v, list):
                raise _fail(path, "a list", v)
            return [elem(x, f"{path}[{i}]") for i, x in enumerate(v)]

        return dec_list, list
    if origin is dict:
        val, _ = _decoder_for(typing.get_args(tp)[1])

        def dec_dict(v: Any, path: str) -> dict[str, Any]:
            if v is None:
                return {}
            if not isinstance(v, dict):
                raise _fail(path, "an object", v)
            return {k: val(x, f"{path}.{k}") for k, x in v.items()}

        return dec_dict, dict
    raise TypeError(f"GoStruct cannot decode {tp!r}")


def encode_value(v: Any) -> Any:
    if isinstance(v, GoStruct):
        return v.to_go()
    if isinstance(v, list):
        return [encode_value(x) for x in v]
    if isinstance(v, dict):
        return {k: encode_value(v[k]) for k in sorted(v, key=lambda s: s.encode())}
    return v


def is_empty(v: Any) -> bool:
    if v is None or v is False or v == "":
        return True
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return v == 0
    if isinstance(v, list | dict):
        return len(v) == 0
    return False


@dataclasses.dataclass(frozen=True, slots=True)
class _Field:
    attr: str
    key: str
    omitempty: bool
    decode: Decoder
    zero: Callable[[], Any]
    encode: Encoder


@dataclasses.dataclass
class GoStruct:
    """Base for Go-shaped claim structures (see the module docstring)."""

    extra: dict[str, Any] = dataclasses.field(default_factory=dict, kw_only=True, repr=False, compare=True)

    @classmethod
    def _go_fields(cls) -> tuple[_Field, ...]:
        fields = _FIELDS.get(cls)
        if fields is None:
            fields = _FIELDS[cls] = _build_fields(cls)
        return fields

    @classmethod
    def from_go(cls, data: Any, path: str = "") -> Self:
        """Build from decoded JSON; raises :class:`DecodeError` on a type mismatch."""
        if not isinstance(data, dict):
            raise _fail(path or cls.__name__, "an object", data)
        fields = cls._go_fields()
        lower = {k.lower(): k for k in data}
        kwargs: dict[str, Any] = {}
        used: set[str] = set()
        for f in fields:
            src = f.key if f.key in data else lower.get(f.key.lower())
            if src is None:
                kwargs[f.attr] = f.zero()
                continue
            used.add(src)
            kwargs[f.attr] = f.decode(data[src], f"{path}.{f.key}" if path else f.key)
        extra = {k: v for k, v in data.items() if k not in used}
        return cls(**kwargs, extra=extra)

    def to_go(self) -> dict[str, Any]:
        """The Go JSON object (an insertion-ordered dict) for this struct."""
        out: dict[str, Any] = {}
        for f in self._go_fields():
            v = getattr(self, f.attr)
            if f.omitempty and is_empty(v):
                continue
            if v is None:
                continue
            out[f.key] = f.encode(v)
        for k, v in self.extra.items():
            if k not in out:
                out[k] = v
        return out


_FIELDS: dict[type[GoStruct], tuple[_Field, ...]] = {}


def _build_fields(cls: type[GoStruct]) -> tuple[_Field, ...]:
    hints = typing.get_type_hints(cls)
    result = []
    for f in dataclasses.fields(cls):
        if f.name == "extra":
            continue
        meta = f.metadata
        dec, zero = _decoder_for(hints[f.name])
        result.append(
            _Field(
                attr=f.name,
                key=meta.get("key") or f.name,
                omitempty=meta.get("omitempty", True),
                decode=meta.get("decode") or dec,
                zero=zero,
                encode=meta.get("encode") or encode_value,
            )
        )
    return tuple(result)
