"""A runtime's system layers (``dikte.runtimes.rootfs``), made and removed for real: id-mapped,
writable without touching the host, and gone without a trace, also after a crash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dikte.runtimes import rootfs

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")

UID = 600123


def _mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(f"{path}/")]


def test_layers_are_the_runtimes_own_and_leave_no_trace(tmp_path: Path) -> None:
    etc = rootfs.shared_etc(tmp_path / "data", tmp_path / "views")
    assert not (etc / "shadow").exists() and (etc / "passwd").exists()
    maps = rootfs.IdMaps()
    try:
        layers = rootfs.build(tmp_path / "views" / "r1", tmp_path / "storage", UID, maps, etc)
    finally:
        maps.close()
    try:
        usr = layers.merged("usr")
        assert usr.stat().st_uid == UID  # host root's files belong to the runtime's root
        (usr / "dikte-layer-test").write_text("mine")
        assert not Path("/usr/dikte-layer-test").exists()
        assert (tmp_path / "storage" / "upper" / "usr" / "dikte-layer-test").exists()
        partial = layers.merged("var/lib/apt") / "lists" / "partial"
        assert partial.stat().st_uid == UID  # apt's own folder, made the runtime's
        empty = [p for p in Path("/usr").iterdir() if p.is_dir() and not any(p.iterdir())]
    finally:
        rootfs.remove(layers)
    assert _mounts_under(tmp_path / "views") == []
    assert not layers.mounts.exists() and not (tmp_path / "storage").exists()
    assert all(p.is_dir() for p in empty)  # removing the view deleted nothing of the host


def test_sweep_cleans_the_layers_of_a_crashed_control_plane(tmp_path: Path) -> None:
    etc = rootfs.shared_etc(tmp_path / "data", tmp_path / "views")
    maps = rootfs.IdMaps()
    try:
        for rid in ("alive0000000", "gone00000000"):
            rootfs.build(tmp_path / "views" / rid, tmp_path / rid, UID, maps, etc)
            rootfs.bind(tmp_path / "views" / rid, str(tmp_path / rid))
    finally:
        maps.close()
    assert rootfs.sweep(tmp_path / "views", {"alive0000000"}) == ["gone00000000"]
    assert _mounts_under(tmp_path / "views" / "gone00000000") == []
    assert _mounts_under(tmp_path / "views" / "alive0000000")
    rootfs.remove(rootfs.RootLayers(tmp_path / "views" / "alive0000000", tmp_path / "x"))
    assert _mounts_under(tmp_path / "views") == []
