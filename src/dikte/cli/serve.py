"""``dikte serve``: run the control plane."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys

import uvicorn

from dikte.app import create_app, prepare_data_dir
from dikte.config import Settings
from dikte.errors import SandboxUnavailable
from dikte.runtimes import netns


def control_url(host: str, port: int) -> str:
    """Where runtimes reach this server: they share its network, so loopback when it listens
    on every address (or on loopback), else the address it listens on."""
    if host in ("", "0.0.0.0", "localhost", "127.0.0.1"):
        return f"http://127.0.0.1:{port}"
    if host in ("::", "::1"):
        return f"http://[::1]:{port}"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(settings: Settings) -> int:
    level = getattr(logging, settings.log_level.upper())
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # the migrations' and the web server's own start-up lines only when asked for (debug)
    if level > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    if settings.unsafe_no_sandbox:
        print("WARNING: --unsafe-no-sandbox: notebooks run as YOU, with no sandbox and no limits. "
              "Any code in any notebook can read and change all your files. Use this only "
              "alone, on your own machine.", file=sys.stderr, flush=True)
    else:
        from dikte.runtimes.doctor import host_report

        report = host_report(network=settings.runtime_network)
        if not report.sandbox_ok and settings.runtime_backend != "ray":  # nodes check their own
            print(report.render(), file=sys.stderr)
            print("\nDikte will not start without a working sandbox. Fix the above, or for "
                  "single-person development run: dikte serve --unsafe-no-sandbox",
                  file=sys.stderr)
            return 2
    # IPPROTO_TCP explicitly: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets
    # whose protocol says TCP, and every cell's small WebSocket frames would otherwise wait ~40 ms
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        print(f"Cannot listen on {settings.host}:{settings.port}: {exc.strerror}. "
              "Choose another with --port (0 picks a free one).", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    sockets = [sock]
    url = control_url(settings.host, port)
    if settings.runtime_backend == "ray" and settings.ray_address == "local":
        # the loopback cluster lives in a network of its own: the listening socket above stays
        # in this machine's network, everything else of this process (Ray, the kernels'
        # relays, the nodes' channel port) goes on in the cluster's
        from dikte.runtimes.ray.cluster import ClusterError, LocalCluster

        try:
            netns.enter(LocalCluster(settings.data_dir / "cluster").netns())
        except ClusterError as exc:
            print(exc.message, file=sys.stderr)
            return 2
    if settings.runtime_backend == "ray" and not settings.unsafe_no_sandbox:
        # runtimes on the nodes reach us through each node's socket, tunnelled to this one
        prepare_data_dir(settings)
        sockets.append(netns.control_socket(settings.data_dir))
        url = netns.CONTROL_URL
    elif not settings.unsafe_no_sandbox and netns.isolated(settings.runtime_network):
        # runtimes have networks of their own: they reach us through a socket bound into them
        prepare_data_dir(settings)
        sockets.append(netns.control_socket(settings.data_dir))
        url = netns.CONTROL_URL
    app = create_app(settings, control_url=url)
    # proxy headers only from the proxies the administrator named (uvicorn's default trusts
    # every client on loopback, where runtimes sharing the host's network and local users are)
    trusted = [a.strip() for a in settings.trusted_proxies.split(",") if a.strip()]
    # a message over websocket_max_message_bytes is refused with a sentence (api/ws.py); past
    # four times the limit uvicorn closes the socket (1009) without reading it all into memory
    config = uvicorn.Config(app, log_level="debug" if level <= logging.DEBUG else "warning",
                            access_log=settings.access_log, ws_ping_interval=20,
                            ws_ping_timeout=30,
                            ws_max_size=4 * settings.websocket_max_message_bytes,
                            timeout_graceful_shutdown=5, proxy_headers=bool(trusted),
                            forwarded_allow_ips=trusted or [])
    server = uvicorn.Server(config)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=sockets))
        while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn has no event)
            await asyncio.sleep(0.05)
        if server.started:
            print(f"Dikte is serving at http://{host}:{port}/ (data in {settings.data_dir})",
                  flush=True)
        await task

    try:
        asyncio.run(main())
    except SandboxUnavailable as exc:
        print(exc.message, file=sys.stderr)
        return 2
    return 0 if server.started else 1
