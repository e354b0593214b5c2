"""``NatsTLS`` and ``connect``: TLS against a real nats-server with ``verify: true``, and the one-line
reasons a connect fails (certificates made by the test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from accountd.natsclient import NatsConnectError, NatsTLS, NatsTLSError, connect
from accountd.natsserver import NatsServer
from harness import NatsFactory, operator_mode_config
from tlsfiles import TLSFiles, tls_url
from world import World


async def _connect(url: str, files: dict[str, Path], tls: NatsTLS) -> None:
    nc = await connect([url], tls=tls, timeout=10, user_credentials=str(files["sys_creds"]), allow_reconnect=False,
                       max_reconnect_attempts=1, reconnect_time_wait=0.1, connect_timeout=3)
    try:
        assert nc.is_connected and nc._server_info["tls_required"]
        await nc.flush()
    finally:
        await nc.close()


async def test_a_client_certificate_signed_by_the_servers_ca_connects(
    tls_server: NatsServer, world_files: dict[str, Path], tls: TLSFiles
) -> None:
    await _connect(tls_url(tls_server), world_files, tls.client())
    await _connect(tls_server.url, world_files, tls.client())  # nats:// too: the server's INFO asks for TLS


async def test_no_client_certificate_is_refused_with_a_clear_reason(
    tls_server: NatsServer, world_files: dict[str, Path], tls: TLSFiles
) -> None:
    with pytest.raises(NatsConnectError, match=r"requires a client certificate|refused the client certificate") as e:
        await _connect(tls_url(tls_server), world_files, NatsTLS(str(tls.ca)))
    assert e.value.tls and "\n" not in str(e.value)


async def test_a_client_certificate_of_another_ca_is_refused(
    tls_server: NatsServer, world_files: dict[str, Path], tls: TLSFiles
) -> None:
    with pytest.raises(NatsConnectError, match="client certificate") as e:
        await _connect(tls_url(tls_server), world_files,
                       NatsTLS(str(tls.ca), str(tls.stranger_cert), str(tls.stranger_key)))
    assert e.value.tls


async def test_a_server_certificate_the_ca_did_not_sign_is_not_trusted(
    tls_server: NatsServer, world_files: dict[str, Path], tls: TLSFiles
) -> None:
    with pytest.raises(NatsConnectError, match=r"server's certificate is not trusted.*--nats-tls-ca") as e:
        await _connect(tls_url(tls_server), world_files,
                       NatsTLS(str(tls.other_ca), str(tls.client_cert), str(tls.client_key)))
    assert e.value.tls


async def test_a_tls_url_to_a_plain_server_is_refused(
    nats_factory: NatsFactory, world: World, world_files: dict[str, Path]
) -> None:
    plain = nats_factory(operator_mode_config(world_files["operator"], world.sys.pub, "MEMORY",
                                              {world.sys.pub: world.sys.jwt}), name="plain")
    with pytest.raises(NatsConnectError, match="does not require TLS"):
        await _connect(tls_url(plain), world_files, NatsTLS())


def test_tls_files_that_cannot_be_used_are_refused_before_connecting(tls: TLSFiles, tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    with pytest.raises(NatsTLSError, match="go together"):
        NatsTLS(cert=str(tls.client_cert))
    with pytest.raises(NatsTLSError, match="--nats-tls-ca"):
        NatsTLS(str(tmp_path / "junk.pem")).context()
    with pytest.raises(NatsTLSError, match="--nats-tls-cert"):
        NatsTLS(str(tls.ca), str(tls.client_cert), str(tls.stranger_key)).context()  # a key of another cert
    with pytest.raises(NatsTLSError, match="No such file"):
        NatsTLS(str(tmp_path / "missing.pem")).context()


def test_nothing_set_leaves_the_connect_options_alone() -> None:
    assert NatsTLS().connect_options() == {} and not NatsTLS()
