"""accountd describe … --field PATH: nsc's selector into the decoded JWT, printed as JSON."""

from __future__ import annotations

import json

from accountd.claims import decode_account

from .helpers import Cli


def test_field_prints_one_value_as_json(world: Cli) -> None:
    world("edit", "account", "--name", "A", "--conn", "5", "--sk", "generate", "--tag", "blue")
    a = decode_account((world.opdir / "accounts" / "A" / "A.jwt").read_text())
    assert world("describe", "account", "--name", "A", "--field", "nats.limits.conn").stdout == "5\n"
    assert world("describe", "account", "-n", "A", "-F", "sub").stdout == f'"{a.sub}"\n'
    sk = world("describe", "account", "-n", "A", "--field", "nats.signing_keys[0]", "--json").stdout
    assert json.loads(sk) == a.nats.signing_key_ids()[0]
    assert json.loads(world("describe", "account", "-n", "A", "-F", "nats.tags").stdout) == ["blue"]
    limits = world("describe", "account", "-n", "A", "-F", "nats.limits").stdout.strip()
    assert limits.startswith('{"conn":5,') and " " not in limits  # Go's json.Marshal: sorted, compact
    assert world("describe", "operator", "--field", "nats.type").stdout == '"operator"\n'
    assert world("describe", "user", "-n", "u", "-a", "A", "--field", "nats.nope").stdout == "null\n"


def test_bad_field_paths_are_usage_errors(world: Cli) -> None:
    world("edit", "account", "--name", "A", "--tag", "blue")
    assert "out of bounds" in world("describe", "account", "-n", "A", "-F", "nats.tags[3]", code=2).stderr
    assert "unable to extract" in world("describe", "account", "-n", "A", "-F", "name.x", code=2).stderr
    assert "index expression" in world("describe", "account", "-n", "A", "-F", "nats.tags[x", code=2).stderr
    assert "--raw" in world("describe", "account", "-n", "A", "-F", "sub", "--raw", code=2).stderr
