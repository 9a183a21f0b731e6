"""The ``dikte`` command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dikte.config import ConfigError, Settings, load_settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    for name in ("data_dir", "host", "port", "runtime_backend", "ray_address"):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    if getattr(args, "unsafe_no_sandbox", False):
        overrides["unsafe_no_sandbox"] = True
    return load_settings(getattr(args, "config", None), **overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dikte", description="Dikte: notebooks with runtimes.")
    sub = parser.add_subparsers(dest="command", required=True)

    def local_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", type=Path, help="TOML config file")
        p.add_argument("--data-dir", type=Path, help="data directory")
        p.add_argument("--unsafe-no-sandbox", action="store_true",
                       help="run kernels without a sandbox (single-person development only)")

    p = sub.add_parser("serve", help="run the server")
    local_options(p)
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8750; 0 picks a free one)")
    p.add_argument("--runtime-backend", metavar="NAME",
                   help="where runtimes run: local (default) or ray (docs/cluster.md)")
    p.add_argument("--ray-address", metavar="HOST:PORT",
                   help="with --runtime-backend ray: the cluster's head, or 'local' for the "
                        "cluster `dikte cluster local start` runs")

    p = sub.add_parser("doctor", help="report what this host offers for the runtime sandbox")

    p = sub.add_parser("run", help="run a whole notebook headless, in a sandboxed runtime")
    local_options(p)
    p.add_argument("notebook", type=Path)
    p.add_argument("-o", "--output", type=Path, help="write the executed notebook here")
    p.add_argument("--image", help="runtime image")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds the whole run may take (default: no limit)")
    p.add_argument("--with", dest="with_paths", action="append", type=Path, default=[],
                   metavar="PATH", help="copy a file or folder into the run's working directory "
                   "(/content), where files.upload() also finds them (repeatable)")
    p.add_argument("--with-drive", dest="drive_paths", action="append", type=Path, default=[],
                   metavar="PATH", help="copy a file or folder into the run's drive, beside the "
                   "notebook: /content/drive/MyDrive/NAME (repeatable)")
    p.add_argument("--secret", dest="secrets", action="append", default=[],
                   metavar="NAME[=VARIABLE]", help="give the notebook a secret for "
                   "google.colab.userdata.get(NAME), read from the environment variable NAME "
                   "(or VARIABLE) (repeatable)")

    from dikte.cli import cluster, images, remote, users

    users.add_commands(sub, local_options)
    images.add_commands(sub, local_options)
    cluster.add_commands(sub, local_options)
    remote.add_commands(sub)
    return parser


def _accelerator_report() -> str:
    """The GPUs NVML finds (none is not an error: CPU runtimes work regardless)."""
    from dikte.accelerators.nvml import discover, driver_version

    devices = discover()
    if not devices:
        return "\nAccelerators: none found (no NVIDIA driver or no GPU); CPU runtimes only."
    lines = [f"\nAccelerators (NVIDIA driver {driver_version() or 'unknown'}):"]
    for d in devices:
        memory = f"{d.memory_bytes / 2**30:.0f} GiB" if d.memory_bytes else "?"
        lines.append(f"  {d.type:<10} {d.model} ({memory}) {d.id} nodes {' '.join(d.nodes)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            from dikte.cli.serve import serve

            return serve(_settings(args))
        if args.command == "doctor":
            from dikte.runtimes.doctor import host_report

            settings = _settings(args)
            drives = settings.drives_root()
            report = host_report(network=settings.runtime_network, pool=settings.runtime_pool,
                                 sandbox_uid_base=settings.sandbox_uid_base,
                                 drives=drives if drives.is_dir() else drives.parent)
            print(report.render())
            print(_accelerator_report())
            return 0 if report.sandbox_ok else 1
        if args.command == "run":
            from dikte.cli.headless import read_secrets, run_notebook

            secrets = read_secrets(args.secrets, os.environ)
            if isinstance(secrets, str):
                print(f"dikte run: {secrets}", file=sys.stderr)
                return 2
            return run_notebook(_settings(args), args.notebook, args.output, image=args.image,
                                timeout=args.timeout, with_paths=args.with_paths,
                                drive_paths=args.drive_paths, secrets=secrets)
        if args.command == "user":
            from dikte.cli import users

            return users.dispatch(args, _settings(args))
        if args.command == "image":
            from dikte.cli import images

            return images.dispatch(args, _settings(args))
        if args.command == "cluster":
            from dikte.cli import cluster

            return cluster.dispatch(args, _settings(args))
        from dikte.cli import remote

        return remote.dispatch(args)
    except ConfigError as exc:
        print(f"dikte: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
