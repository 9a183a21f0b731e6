"""``dikte user ...`` on a data dir; then a server on that data dir accepts what it made."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support import forkserver
from tests.support.server import DikteServer


def user(data_dir: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIKTE_")}
    return forkserver.starter().run(["user", *args, "--data-dir", str(data_dir)], env,
                                    input=input, timeout=60)


def ok(data_dir: Path, *args: str, input: str | None = None) -> str:
    r = user(data_dir, *args, input=input)
    assert r.returncode == 0, f"dikte user {' '.join(args)} -> {r.returncode}\n{r.stderr}"
    return r.stdout


def test_user_commands_then_a_server_accepts_password_and_token(
        tmp_path: Path, fresh_server: Callable[..., DikteServer]) -> None:
    data = tmp_path / "data0"  # where fresh_server's first server keeps its data
    assert "added carol" in ok(data, "add", "carol", "--tier", "pro", "--password-stdin",
                               input="carol's password\n")
    ok(data, "add", "dave")
    ok(data, "add", "erin", "--admin", "--password-stdin", input="erin's password\n")
    ok(data, "set-tier", "dave", "pro_plus")
    ok(data, "passwd", "dave", input="dave's new password\n")
    token = ok(data, "token", "carol", "--scope", "read", "--expires", "7").strip()
    assert token.startswith("dk_") and "\n" not in token
    listing = ok(data, "list")
    lines = {line.split()[1]: line.split() for line in listing.splitlines()[1:]}
    assert lines["carol"][2:] == ["pro", "person", "active", "set"]
    assert lines["dave"][2] == "pro_plus" and lines["erin"][3] == "admin"

    r = user(data, "add", "carol")
    assert r.returncode == 1 and "already someone called 'carol'" in r.stderr
    r = user(data, "token", "dave", "--scope", "admin")
    assert r.returncode == 1 and "not an administrator" in r.stderr
    r = user(data, "passwd", "nobody", input="whatever-whatever\n")
    assert r.returncode == 1 and "no person called 'nobody'" in r.stderr
    r = user(data, "passwd", "dave", input="short\n")
    assert r.returncode == 1 and "8 characters" in r.stderr

    admin = ok(data, "token", "erin").strip()
    server = fresh_server("--unsafe-no-sandbox").start()
    assert server.token == ""  # erin is an admin already: no first-start token printed
    server.token = admin  # for the fixture's clean-up
    origin = {"Origin": server.url}
    carol = httpx.post(server.url + "/api/auth/login",
                       json={"name": "carol", "password": "carol's password"}, headers=origin)
    assert carol.status_code == 200 and carol.json()["name"] == "carol"
    reader = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})
    with reader:
        assert reader.get("/api/me").json()["name"] == "carol"
        assert reader.post("/api/notebooks", json={"path": "Notebooks/x.ipynb"}
                           ).status_code == 403  # a read token
        # disabling through the CLI signs carol out of the running server at once
        ok(data, "disable", "carol")
        assert reader.get("/api/me").status_code == 401
    signed_in = httpx.post(server.url + "/api/auth/login",
                           json={"name": "dave", "password": "dave's new password"},
                           headers=origin)
    assert signed_in.status_code == 200
    people = httpx.get(server.url + "/api/people",
                       headers={"Authorization": f"Bearer {admin}"}).json()
    assert {p["name"]: (p["tier"], p["disabled"]) for p in people} == {
        "carol": ("pro", True), "dave": ("pro_plus", False), "erin": ("free", False)}


def test_user_invite_prints_a_link_the_server_accepts_once(
        tmp_path: Path, fresh_server: Callable[..., DikteServer]) -> None:
    data = tmp_path / "data0"  # where fresh_server's first server keeps its data
    ok(data, "add", "root", "--admin")
    r = user(data, "invite", "frank", "--tier", "pro", "--admin", "--expires", "2",
             "--url", "https://dikte.example.org/")
    assert r.returncode == 0, r.stderr
    link = r.stdout.strip()
    assert link.startswith("https://dikte.example.org/invite#") and "\n" not in link
    assert "invited frank (tier pro, admin)" in r.stderr and "works once" in r.stderr
    code = link.split("#", 1)[1]

    r = user(data, "invite", "root")
    assert r.returncode == 1 and "already someone called 'root'" in r.stderr
    r = user(data, "invite", "gina", "--tier", "gold")
    assert r.returncode == 1 and "There is no tier 'gold'" in r.stderr
    r = user(data, "invite", "gina", "--expires", "31")
    assert r.returncode == 1 and "at most 30 days" in r.stderr
    r = user(data, "invite", "gina")  # without --url: the configured address
    assert r.returncode == 0 and r.stdout.startswith("http://127.0.0.1:8750/invite#")

    admin = ok(data, "token", "root").strip()
    server = fresh_server("--unsafe-no-sandbox").start()
    server.token = admin  # for the fixture's clean-up
    origin = {"Origin": server.url}
    body = {"code": code, "password": "frank's password"}
    answer = httpx.post(server.url + "/api/auth/invitation/accept", json=body, headers=origin)
    assert answer.status_code == 200 and answer.json()["name"] == "frank"
    assert answer.json()["is_admin"]
    answer = httpx.post(server.url + "/api/auth/invitation/accept", json=body, headers=origin)
    assert answer.status_code == 410 and answer.json()["error"]["code"] == "invitation_used"
    listing = ok(data, "list")
    lines = {line.split()[1]: line.split() for line in listing.splitlines()[1:]}
    assert lines["frank"][2:] == ["pro", "admin", "active", "set"]
    assert "gina" not in lines  # invited, not yet a person


def test_people_made_without_a_tier_get_the_configured_default_and_unknown_tiers_are_refused(
        tmp_path: Path, fresh_server: Callable[..., DikteServer]) -> None:
    data = tmp_path / "data0"
    data.mkdir()
    config = data / "dikte.toml"
    config.write_text('default_tier = "course"\n[tiers.course]\nname = "course"\n'
                      "idle_timeout_s = 600\nmax_lifetime_s = 3600\ndisconnect_grace_s = 60\n"
                      'daily_accelerator_hours = 0\ndrive_quota = "1GiB"\n'
                      '[tiers.course.shapes.standard]\nmax_sessions = 1\nmemory = "1GiB"\n'
                      'disk = "1GiB"\n')
    assert "tier course" in ok(data, "add", "fay")
    r = user(data, "set-tier", "fay", "free")
    assert r.returncode == 1
    assert r.stderr == "dikte: There is no tier 'free'; the tiers are course (see docs/tiers.md).\n"
    admin = fresh_server(DIKTE_CONFIG=str(config)).start().client()
    people = {p["name"]: p for p in admin.get("/api/people")}
    assert people["admin"]["tier"] == "course" and people["fay"]["tier"] == "course"
    assert admin.post("/api/people", {"name": "gus"})["tier"] == "course"


def test_the_command_lines_scopes_are_the_databases() -> None:
    from dikte.cli.users import SCOPE_CHOICES
    from dikte.db import SCOPES

    assert SCOPE_CHOICES == SCOPES
