"""Dataclasses that read and write JSON the way Go's structs do.

A :class:`GoStruct` subclass declares its fields in Go's declaration order; encoding follows that
order and Go's ``omitempty`` rule (false, 0, "", None and empty lists/maps are dropped — nested
struct values never are). Decoding mirrors Go: keys match case-insensitively (the last of two
matching keys wins), absent fields and JSON ``null`` get the Go **zero value** (not the dataclass
default: an account without ``limits.conn`` has conn 0), and wrong JSON types are errors, as are
integers outside int64. Unlike Go, keys this code does not know are kept in ``extra`` and written
back, so re-encoding never drops a field a newer library added.

This is the hot path of every decode, so fields are described once per class (:class:`_Spec`)
and scalar fields are checked inline rather than through a decoder call.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any, Final, Self

from accountd.claims.errors import DecodeError

__all__ = ["GoStruct", "go"]

Decoder = Callable[[Any, str], Any]
Encoder = Callable[[Any], Any]

_INT_MIN: Final = -(1 << 63)
_INT_MAX: Final = (1 << 63) - 1

# Field kinds: scalars are checked inline by GoStruct.from_go; everything else calls a decoder.
_INT, _STR, _BOOL, _OTHER = 0, 1, 2, 3
_SCALARS: Final[dict[Any, int]] = {int: _INT, str: _STR, bool: _BOOL}


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


# The checks accept subclasses (an IntEnum, a NewType'd str); exact types take a faster path.
def _check_int(v: Any, path: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise _fail(path, "an integer", v)
    if not _INT_MIN <= v <= _INT_MAX:
        raise DecodeError("bad_encoding", f"{path}: integer {v} does not fit in int64")
    return v


def _check_str(v: Any, path: str) -> str:
    if not isinstance(v, str):
        raise _fail(path, "a string", v)
    return v


def _check_bool(v: Any, path: str) -> bool:
    if not isinstance(v, bool):
        raise _fail(path, "a boolean", v)
    return v


_CHECKS: Final[dict[int, Decoder]] = {_INT: _check_int, _STR: _check_str, _BOOL: _check_bool}


def _decoder_for(tp: Any) -> tuple[Decoder, Callable[[], Any]]:
    """(decoder, zero-value factory) for a type annotation. Decoders accept JSON ``null``."""
    origin = typing.get_origin(tp)
    kind = _SCALARS.get(tp)
    if kind is not None:
        check, zero = _CHECKS[kind], tp
        return (lambda v, path: zero() if v is None else check(v, path)), zero
    if tp is Any:
        return (lambda v, path: v), lambda: None
    if isinstance(tp, type) and issubclass(tp, GoStruct):
        struct = tp
        return (lambda v, path: struct.from_go({} if v is None else v, path)), lambda: struct.from_go({})
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner, _ = _decoder_for(args[0])
        return (lambda v, path: None if v is None else inner(v, path)), lambda: None
    if origin is list:
        elem_tp = typing.get_args(tp)[0]
        elem_kind = _SCALARS.get(elem_tp)
        elem, _ = _decoder_for(elem_tp)

        def dec_list(v: Any, path: str) -> list[Any]:
            if v is None:
                return []
            if not isinstance(v, list):
                raise _fail(path, "a list", v)
            if elem_kind is not None and all(type(x) is elem_tp for x in v):
                return list(v) if elem_kind != _INT else [_check_int(x, path) for x in v]
            return [elem(x, f"{path}[{i}]") for i, x in enumerate(v)]

        return dec_list, list
    if origin is dict:
        val_tp = typing.get_args(tp)[1]
        val_kind = _SCALARS.get(val_tp)
        val, _ = _decoder_for(val_tp)

        def dec_dict(v: Any, path: str) -> dict[str, Any]:
            if v is None:
                return {}
            if not isinstance(v, dict):
                raise _fail(path, "an object", v)
            if val_kind == _STR and all(type(x) is str for x in v.values()):
                return dict(v)
            if val_kind == _INT and all(type(x) is int and _INT_MIN <= x <= _INT_MAX for x in v.values()):
                return dict(v)
            return {k: val(x, f"{path}.{k}") for k, x in v.items()}

        return dec_dict, dict
    raise TypeError(f"GoStruct cannot decode {tp!r}")


def encode_value(v: Any) -> Any:
    t = type(v)
    if t is str or t is int or t is bool:
        return v
    if isinstance(v, GoStruct):
        return v.to_go()
    if t is list:
        return [x if type(x) is str else encode_value(x) for x in v]
    if t is dict:
        # Go sorts map keys bytewise; code point order is the same as UTF-8 byte order.
        return {k: encode_value(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [encode_value(x) for x in v]
    if isinstance(v, dict):
        return {k: encode_value(v[k]) for k in sorted(v)}
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
    kind: int
    """_INT/_STR/_BOOL for a plain scalar with the default codec, else _OTHER."""
    scalar: type | None
    """int/str/bool for those kinds (a value of exactly this type needs no decoder), else None."""
    decode: Decoder
    zero: Callable[[], Any]
    zero_is_const: bool
    """``zero()`` returns an immutable value (0, "", False, None) that may be shared."""
    zero_value: Any
    encode: Encoder


@dataclasses.dataclass(frozen=True, slots=True)
class _Spec:
    fields: tuple[_Field, ...]
    by_key: dict[str, _Field]
    by_fold: dict[str, _Field]
    zeros: dict[str, Any]
    """The shared immutable zero values, by attribute name."""
    mutable_zeros: tuple[_Field, ...]


@dataclasses.dataclass
class GoStruct:
    """Base for Go-shaped claim structures (see the module docstring)."""

    extra: dict[str, Any] = dataclasses.field(default_factory=dict, kw_only=True, repr=False, compare=True)

    @classmethod
    def _go_spec(cls) -> _Spec:
        spec = _SPECS.get(cls)
        if spec is None:
            spec = _SPECS[cls] = _build_spec(cls)
        return spec

    @classmethod
    def _go_fields(cls) -> tuple[_Field, ...]:
        return cls._go_spec().fields

    @classmethod
    def from_go(cls, data: Any, path: str = "") -> Self:
        """Build from decoded JSON; raises :class:`DecodeError` on a type mismatch."""
        if not isinstance(data, dict):
            raise _fail(path or cls.__name__, "an object", data)
        spec = cls._go_spec()
        values = spec.zeros.copy()
        extra: dict[str, Any] = {}
        for k, v in data.items():
            f = spec.by_key.get(k)
            if f is None:
                f = spec.by_fold.get(k.lower())
                if f is None:
                    extra[k] = v
                    continue
            if type(v) is f.scalar and (f.scalar is not int or _INT_MIN <= v <= _INT_MAX):  # type: ignore[operator]
                values[f.attr] = v
            else:
                values[f.attr] = f.decode(v, f"{path}.{f.key}" if path else f.key)
        for f in spec.mutable_zeros:
            if f.attr not in values:
                values[f.attr] = f.zero()
        # Every field is known, so skip __init__ (_build_spec rules out __post_init__).
        obj = cls.__new__(cls)
        values["extra"] = extra
        obj.__dict__.update(values)
        return obj

    def to_go(self) -> dict[str, Any]:
        """The Go JSON object (an insertion-ordered dict) for this struct."""
        out: dict[str, Any] = {}
        attrs = self.__dict__
        spec = self._go_spec()
        for f in spec.fields:
            v = attrs[f.attr]
            if v is None:
                continue
            t = type(v)
            if t is str or t is int or t is bool:
                if f.omitempty and not v:
                    continue
                out[f.key] = v if f.kind != _OTHER else f.encode(v)
            elif t is list or t is dict:
                if v or not f.omitempty:
                    out[f.key] = f.encode(v)
            elif not (f.omitempty and is_empty(v)):
                out[f.key] = f.encode(v)
        for k, v in self.extra.items():
            if k not in out:
                out[k] = v
        return out


_SPECS: dict[type[GoStruct], _Spec] = {}


def _build_spec(cls: type[GoStruct]) -> _Spec:
    # from_go fills __dict__ directly and to_go reads it: no __post_init__, no __slots__.
    if hasattr(cls, "__post_init__") or "__slots__" in cls.__dict__:
        raise TypeError(f"{cls.__name__}: a GoStruct can have neither __post_init__ nor __slots__")
    hints = typing.get_type_hints(cls)
    result = []
    for f in dataclasses.fields(cls):
        if f.name == "extra":
            continue
        meta = f.metadata
        tp = hints[f.name]
        dec, zero = _decoder_for(tp)
        custom_dec, custom_enc = meta.get("decode"), meta.get("encode")
        kind = _SCALARS.get(tp, _OTHER) if custom_dec is None and custom_enc is None else _OTHER
        zero_value = zero()
        result.append(
            _Field(
                attr=f.name,
                key=meta.get("key") or f.name,
                omitempty=meta.get("omitempty", True),
                kind=kind,
                scalar=tp if kind != _OTHER else None,
                decode=custom_dec or dec,
                zero=zero,
                zero_is_const=zero_value is None or type(zero_value) in (int, str, bool),
                zero_value=zero_value,
                encode=custom_enc or encode_value,
            )
        )
    fields = tuple(result)
    by_key = {gf.key: gf for gf in fields}
    by_fold: dict[str, _Field] = {}
    for gf in fields:
        by_fold.setdefault(gf.key.lower(), gf)
    return _Spec(
        fields=fields,
        by_key=by_key,
        by_fold=by_fold,
        zeros={gf.attr: gf.zero_value for gf in fields if gf.zero_is_const},
        mutable_zeros=tuple(gf for gf in fields if not gf.zero_is_const),
    )
