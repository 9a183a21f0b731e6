"""``dikte image build``: a working environment of its own with a manifest, a version that
follows the requirements, and the old image kept when a build fails or is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dikte.config import ImageConfig, Settings
from dikte.images import build, catalog

Build = Callable[..., Path]


def _python_runs_ipykernel(python: str) -> str:
    r = subprocess.run([python, "-I", "-c", "import ipykernel, sys; print(sys.prefix)"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_a_build_makes_an_environment_of_its_own_with_a_manifest(
        image_settings: Callable[..., Settings], requirements: Build) -> None:
    reqs = requirements()
    settings = image_settings(mine=ImageConfig(requirements=str(reqs)))
    lines: list[str] = []
    manifest = build.build(settings, "mine", progress=lines.append)
    folder = settings.image_dir("mine")
    assert settings.images["mine"].python == str(folder / "bin" / "python")
    assert _python_runs_ipykernel(settings.images["mine"].python) == str(folder)
    assert not Path(sys.prefix).samefile(folder)  # not the server's environment
    on_disk = json.loads((folder / catalog.MANIFEST).read_text())
    assert on_disk == manifest.to_json()
    assert on_disk["name"] == "mine" and len(on_disk["version"]) == 12
    assert on_disk["python_version"].startswith(f"{sys.version_info.major}.")
    assert "ipykernel" in on_disk["packages"] and "pip" in on_disk["packages"]
    assert on_disk["size_bytes"] > 10**6 and on_disk["built_at"].endswith("+00:00")
    assert [line[:5] for line in lines if line.startswith("[")] == [
        "[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert lines[-1].startswith("built image mine ")
    assert not list(folder.parent.glob(".mine.build-*"))
    # again: up to date, nothing rebuilt
    again: list[str] = []
    assert build.build(settings, "mine", progress=again.append) == manifest
    assert again == [f"image mine {manifest.version} is built and up to date"]


def test_the_version_follows_the_requirements_and_the_python(
        image_settings: Callable[..., Settings], requirements: Build) -> None:
    one, two = requirements(), requirements("tqdm")
    settings = image_settings(a=ImageConfig(requirements=str(one)),
                              b=ImageConfig(requirements=str(two)))
    first = build.plan(settings, "a")
    assert first.version == build.plan(settings, "a").version  # reproducible
    assert build.plan(settings, "b").version != first.version
    assert build.image_version(first.text, "3.12.1") != first.version
    one.write_text(one.read_text() + "# a comment is a change too\n")
    assert build.plan(settings, "a").version != first.version


def test_a_failed_build_leaves_the_old_image_as_it_was(
        image_settings: Callable[..., Settings], requirements: Build) -> None:
    reqs = requirements()
    settings = image_settings(mine=ImageConfig(requirements=str(reqs)))
    before = build.build(settings, "mine", progress=lambda line: None)
    reqs.write_text(reqs.read_text() + "dikte-no-such-package-anywhere==1.0\n")
    with pytest.raises(build.BuildError, match="dikte-no-such-package-anywhere"):
        build.build(settings, "mine", progress=lambda line: None)
    folder = settings.image_dir("mine")
    assert catalog.read_manifest(folder) == before
    _python_runs_ipykernel(settings.images["mine"].python)
    assert not list(folder.parent.glob(".mine.*-*"))  # its temporary folder is gone


def test_a_build_killed_midway_leaves_the_old_image_and_the_next_build_tidies_up(
        image_settings: Callable[..., Settings], requirements: Build,
        images_env: dict[str, str], tmp_path: Path) -> None:
    reqs = requirements()
    config = tmp_path / "dikte.toml"
    config.write_text(f'[images.mine]\nrequirements = "{reqs}"\n')
    settings = image_settings(mine=ImageConfig(requirements=str(reqs)))
    before = build.build(settings, "mine", progress=lambda line: None)
    reqs.write_text(reqs.read_text() + "tqdm\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dikte.cli.main", "image", "build", "mine", "--config",
         str(config), "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env=images_env)
    folder = settings.image_dir("mine")
    deadline = time.monotonic() + 60
    while not list(folder.parent.glob(".mine.build-*")):
        assert proc.poll() is None and time.monotonic() < deadline, "no build started"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the command and uv with it
    proc.wait()
    assert catalog.read_manifest(folder) == before
    _python_runs_ipykernel(settings.images["mine"].python)
    after = build.build(settings, "mine", progress=lambda line: None)
    assert after.version != before.version and "tqdm" in after.packages
    assert not list(folder.parent.glob(".mine.*-*"))


def test_an_old_image_moved_aside_by_an_interrupted_swap_is_put_back(
        image_settings: Callable[..., Settings], requirements: Build) -> None:
    settings = image_settings(mine=ImageConfig(requirements=str(requirements())))
    before = build.build(settings, "mine", progress=lambda line: None)
    folder = settings.image_dir("mine")
    os.rename(folder, folder.with_name(".mine.old-12345"))  # killed between the two renames
    assert catalog.state(settings, "mine").ready is False
    assert build.build(settings, "mine", progress=lambda line: None) == before  # no rebuild
    assert catalog.read_manifest(folder) == before


def test_an_image_without_ipykernel_is_refused_and_not_installed(
        image_settings: Callable[..., Settings], tmp_path: Path) -> None:
    reqs = tmp_path / "no-kernel.txt"
    reqs.write_text("")
    settings = image_settings(bare=ImageConfig(requirements=str(reqs)))
    with pytest.raises(build.BuildError, match="cannot import ipykernel"):
        build.build(settings, "bare", progress=lambda line: None)
    assert not settings.image_dir("bare").exists()


def test_list_and_remove(image_settings: Callable[..., Settings], requirements: Build,
                         dikte: Callable[..., subprocess.CompletedProcess[str]],
                         tmp_path: Path) -> None:
    reqs = requirements()
    config = tmp_path / "dikte.toml"
    config.write_text('[images.minimal]\n'
                      f'[images.mine]\nrequirements = "{reqs}"\ndescription = "Mine"\n')
    args = ("--config", str(config), "--data-dir", str(tmp_path / "data"))
    r = dikte("image", "build", "mine", *args)
    assert r.returncode == 0, r.stderr
    assert "[2/4] installing" in r.stdout and "built image mine" in r.stdout
    settings = image_settings(mine=ImageConfig(requirements=str(reqs)))
    manifest = catalog.read_manifest(settings.image_dir("mine"))
    assert manifest is not None
    listed = dikte("image", "list", *args).stdout.splitlines()
    assert listed[0].split() == ["NAME", "VERSION", "BUILT", "SIZE", "PYTHON", "PACKAGES"]
    mine = next(line.split() for line in listed if line.startswith("mine "))
    assert mine[:3] == ["mine", manifest.version, "yes"]
    assert mine[3:8] == [f"{manifest.size_bytes / 10**9:.2f}", "GB", manifest.python_version,
                         str(len(manifest.packages)), "(default)"]
    assert next(line.split() for line in listed if line.startswith("minimal "))[1:3] == [
        "-", "no"]
    assert "build minimal with: dikte image build minimal" in listed
    reqs.write_text(reqs.read_text() + "tqdm\n")
    mine = next(line.split() for line in dikte("image", "list", *args).stdout.splitlines()
                if line.startswith("mine "))
    assert mine[2] == "outdated"

    r = dikte("image", "remove", "mine", *args)
    assert r.returncode == 0 and "removed image mine" in r.stdout
    assert not settings.image_dir("mine").exists()
    assert "is not built; nothing to remove" in dikte("image", "remove", "mine", *args).stdout
    r = dikte("image", "build", "nope", *args)
    assert r.returncode == 1 and "There is no image 'nope'" in r.stderr


def test_pips_indexes_are_given_to_uv(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://mirror.example/simple\n"
                    "extra-index-url = file:///opt/a/simple file:///opt/b/simple\n"
                    "cert = /etc/ssl/bundle.pem\n[install]\nfind-links = /opt/wheels\n")
    env = {"HOME": str(tmp_path), "XDG_CONFIG_DIRS": str(tmp_path / "none"),
           "PIP_CONFIG_FILE": str(conf)}
    options, uv_env = build.pip_index_options(env)
    assert options == ["--index-url", "https://mirror.example/simple",
                       "--extra-index-url", "file:///opt/a/simple",
                       "--extra-index-url", "file:///opt/b/simple",
                       "--find-links", "/opt/wheels", "--index-strategy", "unsafe-best-match"]
    assert uv_env == {"SSL_CERT_FILE": "/etc/ssl/bundle.pem"}
    options, _ = build.pip_index_options({**env, "PIP_FIND_LINKS": "/elsewhere",
                                          "PIP_INDEX_URL": "https://other.example/simple"})
    assert options[:2] == ["--index-url", "https://other.example/simple"]
    assert options[options.index("--find-links") + 1] == "/elsewhere"
    assert build.pip_index_options({"HOME": str(tmp_path / "nobody"),
                                    "XDG_CONFIG_DIRS": str(tmp_path / "none"),
                                    "PIP_CONFIG_FILE": os.devnull}) == ([], {})
