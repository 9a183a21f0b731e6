"""``dikte image ...``: list, build and remove runtime images (no server needed).

Uses the same configuration as ``dikte serve`` (``--config``, ``--data-dir``, ``DIKTE_*``). A
running server sees a build or removal at once: a runtime started afterwards uses the new image.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from dikte.config import Settings
from dikte.images import build, catalog


def add_commands(sub: Any, local_options: Callable[[argparse.ArgumentParser], None]) -> None:
    i = sub.add_parser("image", help="list, build and remove runtime images").add_subparsers(
        dest="op", required=True)

    def cmd(name: str, helptext: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = i.add_parser(name, help=helptext)
        local_options(p)
        return p

    cmd("list", "the images: version, built or not, size, Python, number of packages")
    p = cmd("build", "build an image with uv (skipped when it is built and up to date)")
    p.add_argument("name")
    p.add_argument("--force", action="store_true", help="build even when up to date")
    p = cmd("remove", "remove a built image")
    p.add_argument("name")


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.op == "list":
            print(render_list(settings))
            return 0
        if args.op == "build":
            build.build(settings, args.name, force=args.force, progress=_say,
                        show_uv=sys.stderr.isatty())
            return 0
        if args.name not in settings.images:
            raise build.BuildError(f"There is no image {args.name!r}; the configured images "
                                   f"are {', '.join(sorted(settings.images))}.")
        if build.remove(settings, args.name):
            print(f"removed image {args.name} ({settings.image_dir(args.name)})")
        else:
            print(f"image {args.name} is not built; nothing to remove")
        return 0
    except build.BuildError as exc:
        print(f"dikte image {args.op}: {exc}", file=sys.stderr)
        return 1


def _say(line: str) -> None:
    print(line, flush=True)


def _built(settings: Settings, image: catalog.ImageState) -> str:
    if not image.built_by_dikte:
        return "yours" if image.ready else "missing"
    if image.manifest is None:
        return "no"
    try:
        wanted = build.plan(settings, image.name).version
    except build.BuildError:
        return "yes"
    return "yes" if wanted == image.manifest.version else "outdated"


def render_list(settings: Settings) -> str:
    rows = [("NAME", "VERSION", "BUILT", "SIZE", "PYTHON", "PACKAGES", "")]
    default = catalog.choose_default(settings)
    for image in catalog.states(settings):
        m = image.manifest
        rows.append((
            image.name, m.version if m else "-", _built(settings, image),
            f"{m.size_bytes / 10**9:.2f} GB" if m else "-",
            m.python_version if m else (image.python if not image.built_by_dikte else "-"),
            str(len(m.packages)) if m else "-", "(default)" if image.name == default else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    missing = [i.name for i in catalog.states(settings) if i.built_by_dikte and not i.ready]
    if missing:
        lines.append("")
        lines += [f"build {name} with: {catalog.build_command(name)}" for name in missing]
    return "\n".join(lines)
