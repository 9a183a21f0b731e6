"""Open from URL's pure rules: which URLs are accepted, what is fetched for them, the name the
copy gets, and which addresses count as private."""

from __future__ import annotations

import pytest

from dikte.errors import BadRequest
from dikte.transfers.import_source import (
    GitSource,
    HttpSource,
    address_refusal,
    copy_name,
    display_url,
    source_for,
)

RAW = "https://raw.githubusercontent.com"


@pytest.mark.parametrize(("url", "fetched", "name"), [
    ("https://example.org/nb/intro.ipynb", "https://example.org/nb/intro.ipynb", "intro.ipynb"),
    ("  http://example.org/a%20b.ipynb ", "http://example.org/a%20b.ipynb", "a b.ipynb"),
    ("https://example.org/download?id=3", "https://example.org/download?id=3", "download.ipynb"),
    ("https://example.org/", "https://example.org/", "Untitled.ipynb"),
    ("https://github.com/ada/lab/blob/main/notebooks/Intro.ipynb",
     f"{RAW}/ada/lab/main/notebooks/Intro.ipynb", "Intro.ipynb"),
    ("https://github.com/ada/lab/raw/v1.0/x.ipynb", f"{RAW}/ada/lab/v1.0/x.ipynb", "x.ipynb"),
    ("https://colab.research.google.com/github/ada/lab/blob/main/deep/er/x.ipynb",
     f"{RAW}/ada/lab/main/deep/er/x.ipynb", "x.ipynb"),
])
def test_http_sources(url: str, fetched: str, name: str) -> None:
    assert source_for(url, None, None, RAW) == HttpSource(url=fetched, name=name)


def test_the_raw_host_is_configurable() -> None:
    src = source_for("https://github.com/a/b/blob/dev/n.ipynb", None, None, "http://127.0.0.1:9/raw/")
    assert src == HttpSource(url="http://127.0.0.1:9/raw/a/b/dev/n.ipynb", name="n.ipynb")


@pytest.mark.parametrize(("url", "path", "ref", "expected"), [
    ("https://example.org/lab.git", "notebooks/a.ipynb", None,
     GitSource("https://example.org/lab.git", "notebooks/a.ipynb", None, "a.ipynb")),
    ("git://example.org/lab", "/a.ipynb", " v2 ",
     GitSource("git://example.org/lab", "a.ipynb", "v2", "a.ipynb")),
    ("http://example.org/lab", "x/y.IPYNB", "",
     GitSource("http://example.org/lab", "x/y.IPYNB", None, "y.IPYNB")),
])
def test_git_sources(url: str, path: str, ref: str | None, expected: GitSource) -> None:
    assert source_for(url, path, ref, RAW) == expected


@pytest.mark.parametrize(("url", "path", "ref", "code"), [
    ("file:///etc/passwd", None, None, "bad_url_scheme"),
    ("ftp://example.org/a.ipynb", None, None, "bad_url_scheme"),
    ("git://example.org/a.ipynb", None, None, "bad_url_scheme"),  # git only for repositories
    ("example.org/a.ipynb", None, None, "bad_url_scheme"),
    ("file:///srv/repo", "a.ipynb", None, "bad_url_scheme"),
    ("ssh://git@example.org/repo", "a.ipynb", None, "bad_url_scheme"),
    ("ext::sh%20-c%20touch%20/tmp/pwned", "a.ipynb", None, "bad_url_scheme"),
    ("/srv/repo", "a.ipynb", None, "bad_url_scheme"),
    ("https:///a.ipynb", None, None, "bad_url"),
    ("https://example.org:port/a.ipynb", None, None, "bad_url"),
    ("https://example.org/a b.ipynb", None, None, "bad_url"),
    ("https://github.com/ada/lab", None, None, "bad_url"),
    ("https://example.org/lab.git", None, None, "bad_repo_path"),
    ("https://example.org/lab.git", "../a.ipynb", None, "bad_repo_path"),
    ("https://example.org/lab.git", "a/./b.ipynb", None, "bad_repo_path"),
    ("https://example.org/lab.git", "README.md", None, "bad_repo_path"),
    ("https://example.org/lab.git", "--upload-pack=x.ipynb", None, "bad_repo_path"),
    ("https://example.org/lab.git", "a.ipynb", "--upload-pack=touch", "bad_ref"),
    ("https://example.org/lab.git", "a.ipynb", "main..dev", "bad_ref"),
    ("https://example.org/lab.git", "a.ipynb", "a b", "bad_ref"),
])
def test_refusals(url: str, path: str | None, ref: str | None, code: str) -> None:
    with pytest.raises(BadRequest) as info:
        source_for(url, path, ref, RAW)
    assert info.value.code == code
    assert info.value.message.endswith(".")


@pytest.mark.parametrize(("path", "name"), [
    ("/a/b/Intro.ipynb", "Intro.ipynb"),
    ("/a/b%2Fc.ipynb", "bc.ipynb"),
    ("/x/..", "Untitled.ipynb"),
    ("/what%3F.json", "what.json.ipynb"),
    ("/" + "n" * 300 + ".ipynb", "n" * 194 + ".ipynb"),
])
def test_copy_names(path: str, name: str) -> None:
    assert copy_name(path) == name


def test_display_url_drops_credentials() -> None:
    assert display_url("https://me:secret@example.org:8443/r.git") == "https://example.org:8443/r.git"
    assert display_url("https://example.org/r.git") == "https://example.org/r.git"


@pytest.mark.parametrize(("address", "private"), [
    ("93.184.216.34", False),
    ("2606:4700::1111", False),
    ("127.0.0.1", True),
    ("127.8.9.10", True),
    ("10.1.2.3", True),
    ("172.16.0.1", True),
    ("192.168.1.1", True),
    ("169.254.169.254", True),  # cloud metadata services
    ("100.64.0.1", True),
    ("0.0.0.0", True),
    ("224.0.0.1", True),
    ("::1", True),
    ("fe80::1%eth0", True),
    ("fd00::1", True),
    ("::ffff:127.0.0.1", True),
    ("64:ff9b::a9fe:a9fe", True),  # NAT64 form of 169.254.169.254
    ("2002:7f00:1::", True),  # 6to4 form of 127.0.0.1
    ("not-an-ip", True),
])
def test_address_policy(address: str, private: bool) -> None:
    assert (address_refusal(address) is not None) == private
