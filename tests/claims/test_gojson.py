"""Go's encoding/json output: compact, HTML-escaped, UTF-8 kept raw."""

from __future__ import annotations

from accountd.claims import KeyPair, Role, create, encode, new_account
from accountd.claims.gojson import dumps, dumps_bytes

from .tokens import payload_bytes


def test_output_is_compact() -> None:
    assert dumps({"a": [1, 2], "b": {"c": True}}) == '{"a":[1,2],"b":{"c":true}}'


def test_html_characters_are_escaped_like_go() -> None:
    assert dumps({"s": "<a & b>"}) == '{"s":"\\u003ca \\u0026 b\\u003e"}'


def test_full_wildcard_subject_is_written_as_go_writes_it() -> None:
    assert dumps(["$SYS.>"]) == '["$SYS.\\u003e"]'


def test_line_and_paragraph_separators_are_escaped() -> None:
    assert dumps("a\u2028b\u2029c") == '"a\\u2028b\\u2029c"'


def test_non_ascii_stays_raw_utf8() -> None:
    assert dumps_bytes({"name": "Zürich ✓"}) == '{"name":"Zürich ✓"}'.encode()


def test_control_characters_use_lower_case_hex() -> None:
    assert dumps("\x01\n\t") == '"\\u0001\\n\\t"'


def test_key_order_is_the_callers() -> None:
    assert dumps({"z": 1, "a": 2}) == '{"z":1,"a":2}'


def test_escaping_reaches_the_token_payload() -> None:
    operator: KeyPair = create(Role.OPERATOR)
    claims = new_account(create(Role.ACCOUNT).public_key, "R&D <lab>")
    claims.nats.default_permissions.pub.allow = ["lab.>"]
    payload = payload_bytes(encode(claims, operator, now=1_800_000_000))
    assert b'"name":"R\\u0026D \\u003clab\\u003e"' in payload
    assert b'"allow":["lab.\\u003e"]' in payload
    assert b"<" not in payload and b">" not in payload and b"&" not in payload
