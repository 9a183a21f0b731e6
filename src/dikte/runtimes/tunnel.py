"""The runtime channel across machines: a node's control socket, tunnelled to the control plane.

On one machine a runtime reaches the control plane through a unix socket bound into its sandbox
(:func:`dikte.runtimes.netns.control_socket`). On a cluster node the same socket is served by
the node's host process, which carries each connection over TLS to the control plane's
*channel port*; there the control plane hands it to its own unix socket, where only the runtime
channel answers and every call carries the runtime's token. The control plane's certificate is
its own (made once, kept in ``<data_dir>/cluster``) and the nodes trust that certificate alone:
nobody on the network reads a token or a secret, and nobody poses as the control plane.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import socket
import ssl
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

SERVER_NAME = "dikte-control-plane"
"""The name in the control plane's certificate, which the nodes check."""
_CHUNK = 65536


def certificate(folder: Path, name: str = SERVER_NAME) -> tuple[Path, Path]:
    """A self-made certificate for ``name`` and its key (PEM files in ``folder``), made on
    first use: the control plane's channel certificate, or a node's for its streams."""
    cert, key = folder / "channel.crt", folder / "channel.key"
    if cert.is_file() and key.is_file():
        return cert, key
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    built = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
             .public_key(private.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=3650))
             .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]),
                            critical=False)
             .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
             .sign(private, hashes.SHA256()))
    tmp_key, tmp_cert = key.with_suffix(".key.tmp"), cert.with_suffix(".crt.tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    tmp_cert.write_bytes(built.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp_key, key)
    os.replace(tmp_cert, cert)
    return cert, key


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, OSError):
        pass


async def until_first_ends(*jobs: Coroutine[Any, Any, None]) -> None:
    """Run ``jobs`` until one of them ends, then cancel the others and wait for them."""
    tasks = [asyncio.ensure_future(j) for j in jobs]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def join_streams(a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                b: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
    """Carry bytes both ways until either side ends, then close both: TLS has no half-close,
    so the end of one direction is the end of the connection (HTTP, all this carries, is
    done by then)."""
    try:
        await until_first_ends(_pipe(a[0], b[1]), _pipe(b[0], a[1]))
    finally:
        for w in (a[1], b[1]):
            w.close()
            with contextlib.suppress(Exception):
                await w.wait_closed()


async def serve_channel_port(sock: socket.socket, folder: Path,
                             control_socket: Path) -> asyncio.Server:
    """The control plane's side: TLS on ``sock`` (a bound TCP socket), each connection handed
    to ``control_socket`` (the unix socket where only the runtime channel answers)."""
    cert, key = certificate(folder)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            inner = await asyncio.open_unix_connection(str(control_socket))
        except OSError:
            writer.close()
            return
        await join_streams((reader, writer), inner)

    return await asyncio.start_server(handle, sock=sock, ssl=ctx)


class NodeChannel:
    """A node's side: the unix socket bound into this node's sandboxes, each connection carried
    to the control plane's channel port over TLS that trusts ``cert_pem`` alone."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.target: tuple[str, int] | None = None
        self._ctx: ssl.SSLContext | None = None
        self._cert = ""
        self._server: asyncio.Server | None = None

    async def point_at(self, address: str, cert_pem: str) -> None:
        """Serve (again) toward the control plane at ``host:port``."""
        host, _, port = address.rpartition(":")
        self.target = (host.strip("[]"), int(port))
        if cert_pem != self._cert:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=cert_pem)
            self._ctx, self._cert = ctx, cert_pem
        if self._server is None:
            self.path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            os.chmod(self.path.parent, 0o755)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            self._server = await asyncio.start_unix_server(self._handle, str(self.path))
            os.chmod(self.path, 0o666)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.target is None or self._ctx is None:
            writer.close()
            return
        try:
            outer = await asyncio.open_connection(*self.target, ssl=self._ctx,
                                                  server_hostname=SERVER_NAME)
        except (OSError, ssl.SSLError):
            writer.close()
            return
        await join_streams((reader, writer), outer)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
