"""``dikte user ...``: manage people directly in the local database (no server needed).

Uses the same configuration as ``dikte serve`` (``--config``, ``--data-dir``, ``DIKTE_*``), so it
works on the data of a server that is running or stopped; a running server sees each change at
once (a disabled person is signed out on their next request).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dikte.config import Settings
from dikte.errors import DikteError

if TYPE_CHECKING:
    from dikte.db import Database, Person

SCOPE_CHOICES = ("read", "write", "admin")
"""dikte.db's SCOPES (a test says they agree), named here so that building the command line
does not import the database layer (SQLAlchemy, Alembic, most of a CPU second) for every
command: the layer is imported when a user command runs."""


def add_commands(sub: Any, local_options: Callable[[argparse.ArgumentParser], None]) -> None:
    u = sub.add_parser("user", help="manage people in the local database").add_subparsers(
        dest="op", required=True)

    def cmd(name: str, helptext: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = u.add_parser(name, help=helptext)
        local_options(p)
        return p

    p = cmd("add", "add a person")
    p.add_argument("name")
    p.add_argument("--admin", action="store_true", help="make them an administrator")
    p.add_argument("--tier", help="their tier (default: the configured default tier)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read their password from standard input")
    cmd("list", "list people")
    p = cmd("set-tier", "change a person's tier")
    p.add_argument("name")
    p.add_argument("tier")
    p = cmd("disable", "disable a person and revoke their sessions and tokens")
    p.add_argument("name")
    p = cmd("enable", "enable a disabled person again")
    p.add_argument("name")
    p = cmd("passwd", "set a person's password, read from standard input")
    p.add_argument("name")
    p = cmd("invite", "invite someone: prints a single-use link where they choose a password")
    p.add_argument("name", help="the name they will sign in with")
    p.add_argument("--tier", help="their tier (default: the configured default tier)")
    p.add_argument("--admin", action="store_true", help="make them an administrator")
    p.add_argument("--expires", type=float, default=7.0, metavar="DAYS",
                   help="days the link works (default 7, at most 30)")
    p.add_argument("--url", default=os.environ.get("DIKTE_URL"),
                   help="the address people reach Dikte at, for the link (default: DIKTE_URL, "
                   "else http://HOST:PORT of the configuration)")
    p = cmd("token", "print a new API token for a person (shown only once)")
    p.add_argument("name")
    p.add_argument("--scope", action="append", choices=SCOPE_CHOICES, dest="scopes",
                   help="read, write or admin (repeatable; default: all the person may hold)")
    p.add_argument("--expires", type=float, metavar="DAYS", help="days until it expires")
    p.add_argument("--token-name", default="created by dikte user token",
                   help="what the token is for")


def _read_password() -> str:
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def _find(db: Database, name: str) -> Person:
    person = db.person_by_name(name)
    if person is None:
        raise DikteError(f"There is no person called {name!r} (see: dikte user list).",
                         code="no_person")
    return person


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from dikte.db import Database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    try:
        db.migrate()
        return _run(args, db, settings)
    except DikteError as exc:
        print(f"dikte: {exc.message}", file=sys.stderr)
        return 1
    finally:
        db.close()


def _known_tier(settings: Settings, tier: str) -> str:
    if tier not in settings.tiers:
        raise DikteError(f"There is no tier {tier!r}; the tiers are "
                         f"{', '.join(sorted(settings.tiers))} (see docs/tiers.md).",
                         code="no_tier")
    return tier


def _run(args: argparse.Namespace, db: Database, settings: Settings) -> int:
    if args.op == "add":
        password = _read_password() if args.password_stdin else None
        person = db.add_person(args.name, password=password or None, is_admin=args.admin,
                               tier=_known_tier(settings, args.tier or settings.default_tier))
        print(f"added {person.name} (id {person.id}, tier {person.tier}"
              f"{', admin' if person.is_admin else ''})")
    elif args.op == "list":
        print(f"{'id':>4}  {'name':<24} {'tier':<12} {'role':<6} {'status':<9} password")
        for p in db.people():
            print(f"{p.id:>4}  {p.name:<24} {p.tier:<12} {'admin' if p.is_admin else 'person':<6} "
                  f"{'disabled' if p.disabled else 'active':<9} {'set' if p.has_password else '-'}")
    elif args.op == "set-tier":
        person = db.update_person(_find(db, args.name).id,
                                  tier=_known_tier(settings, args.tier))
        print(f"{person.name} is now on tier {person.tier}")
    elif args.op == "disable":
        db.update_person(_find(db, args.name).id, disabled=True)
        print(f"disabled {args.name}; their sessions and tokens are revoked")
    elif args.op == "enable":
        db.update_person(_find(db, args.name).id, disabled=False)
        print(f"enabled {args.name} (give them a new password or token)")
    elif args.op == "passwd":
        db.update_person(_find(db, args.name).id, password=_read_password())
        print(f"password of {args.name} changed")
    elif args.op == "invite":
        _invite(args, db, settings)
    elif args.op == "token":
        person = _find(db, args.name)
        if person.disabled:
            raise DikteError(f"{person.name} is disabled; enable them first.", code="disabled")
        scopes = args.scopes or (SCOPE_CHOICES if person.is_admin else ("read", "write"))
        if "admin" in scopes and not person.is_admin:
            raise DikteError(f"{person.name} is not an administrator, so a token of theirs "
                             "cannot have the admin scope.", code="scope_not_held")
        expires = time.time() + args.expires * 86400 if args.expires else None
        _, secret = db.issue_token(person.id, args.token_name, scopes, expires)
        print(secret)
    return 0


def _invite(args: argparse.Namespace, db: Database, settings: Settings) -> None:
    tier = args.tier or settings.default_tier
    if tier not in settings.tiers:
        raise DikteError(f"There is no tier {tier!r}; the tiers are "
                         f"{', '.join(sorted(settings.tiers))}.", code="no_such_tier")
    if not 0 < args.expires <= 30:
        raise DikteError("An invitation works for more than 0 and at most 30 days.",
                         code="bad_expiry")
    from dikte.db.invitations import Invitations

    inv, code = Invitations(db.session, clock=db.clock).invite(
        args.name, tier=tier, is_admin=args.admin, invited_by=None,
        lifetime=args.expires * 86400)
    base = (args.url or f"http://{settings.host}:{settings.port}").rstrip("/")
    until = datetime.fromtimestamp(inv.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"invited {inv.name} (tier {inv.tier}{', admin' if inv.is_admin else ''}); the link "
          f"works once, until {until}. Send it to them:", file=sys.stderr)
    print(f"{base}/invite#{code}")
