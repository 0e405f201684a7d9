"""The `verifier` command: serve, users, sessions, keys, demo."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

from verifier.errors import SettingsError, StoreUnavailable, VerifierError
from verifier.keyring.commands import add_keys_commands
from verifier.keyring.loader import load_ring
from verifier.keys import KeySpace, normalize_user_name
from verifier.passwords import PasswordHasher
from verifier.redis_store import connect
from verifier.sessions import SessionPolicy, SessionStore
from verifier.settings import ENV_PREFIX, load_settings
from verifier.users import UserStore

EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except SettingsError as error:
        print(f"verifier: configuration error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except StoreUnavailable:
        print("verifier: cannot reach Redis (check VERIFIER_REDIS_URL)", file=sys.stderr)
        return 1
    except VerifierError as error:
        print(f"verifier: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="verifier", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the service under gunicorn")
    serve.add_argument("--bind", default=os.environ.get(ENV_PREFIX + "BIND", "127.0.0.1:8000"))
    serve.add_argument(
        "--workers", type=int, default=int(os.environ.get(ENV_PREFIX + "WORKERS", "2"))
    )
    serve.set_defaults(handler=_serve)

    users = commands.add_parser("users", help="manage users").add_subparsers(
        required=True, metavar="ACTION"
    )
    add = users.add_parser("add", help="create a user (password from a prompt or stdin)")
    add.add_argument("name")
    add.set_defaults(handler=lambda a: _run(_users_add(a.name)))
    passwd = users.add_parser("passwd", help="set a new password and end every session")
    passwd.add_argument("name")
    passwd.set_defaults(handler=lambda a: _run(_users_passwd(a.name)))
    remove = users.add_parser("remove", help="delete a user and end every session")
    remove.add_argument("name")
    remove.set_defaults(handler=lambda a: _run(_users_remove(a.name)))
    users.add_parser("list", help="list user names").set_defaults(
        handler=lambda a: _run(_users_list())
    )

    sessions = commands.add_parser("sessions", help="inspect or end sessions").add_subparsers(
        required=True, metavar="ACTION"
    )
    listing = sessions.add_parser("list", help="list a user's live session ids")
    listing.add_argument("name")
    listing.set_defaults(handler=lambda a: _run(_sessions_list(a.name)))
    end_all = sessions.add_parser("end-all", help="end every session of a user")
    end_all.add_argument("name")
    end_all.set_defaults(handler=lambda a: _run(_sessions_end_all(a.name)))

    add_keys_commands(commands)

    demo = commands.add_parser("demo", help="run the local demo stack in the foreground")
    demo.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", "8080")))
    demo.set_defaults(handler=_demo)
    return parser


def _serve(args: argparse.Namespace) -> int:
    # Check the configuration here, so a bad value is one clear line, not a worker traceback.
    load_ring(load_settings(os.environ), time.time())
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or "gunicorn"
    command = [
        gunicorn,
        "--worker-class",
        "verifier.worker.VerifierWorker",
        "--bind",
        args.bind,
        "--workers",
        str(args.workers),
        # nginx keeps connections to us open (upstream keepalive); don't drop them early.
        "--keep-alive",
        "75",
        "--graceful-timeout",
        "10",
        # gunicorn 27's control socket lives at one path per user: a second instance on the
        # same machine (tests, the demo) would take it over and delete it on exit.
        "--no-control-socket",
        "verifier.app:from_environment()",
    ]
    os.execv(gunicorn, command)  # replaces this process: signals reach gunicorn directly


def _demo(args: argparse.Namespace) -> int:
    # Imported here: only the demo needs the process tooling.
    from verifier.demo.launcher import run_demo  # noqa: PLC0415

    status: int = run_demo(args.port)
    return status


def _run(action: Awaitable[int]) -> int:
    return asyncio.run(_with_timeout(action))


async def _with_timeout(action: Awaitable[int]) -> int:
    return await asyncio.wait_for(action, timeout=30)


class _Stores:
    """The stores an admin command needs, built from the same environment as the service."""

    def __init__(self) -> None:
        settings = load_settings(os.environ)
        self.redis = connect(settings.redis_url)
        keys = KeySpace(settings.key_prefix)
        self.hasher = PasswordHasher(max_parallel=1)
        self.users = UserStore(self.redis, keys, self.hasher)
        self.sessions = SessionStore(
            self.redis,
            keys,
            SessionPolicy(
                idle_seconds=settings.refresh_idle_seconds,
                absolute_seconds=settings.refresh_absolute_seconds,
                grace_seconds=settings.refresh_grace_seconds,
                max_sessions_per_user=settings.max_sessions_per_user,
            ),
            time.time,
        )

    async def close(self) -> None:
        await self.redis.aclose()
        self.hasher.close()


def _read_new_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != first:
            raise VerifierError("the passwords differ")
        return first
    # Scripts pipe the password in: one line, without its newline.
    return sys.stdin.readline().rstrip("\r\n")


async def _users_add(name: str) -> int:
    stores = _Stores()
    try:
        created = await stores.users.add(name, _read_new_password())
    finally:
        await stores.close()
    print(f"user {created} added")
    return 0


async def _users_passwd(name: str) -> int:
    stores = _Stores()
    try:
        changed = await stores.users.set_password(name, _read_new_password())
        ended = await stores.sessions.revoke_all(changed)
    finally:
        await stores.close()
    print(f"password of {changed} changed; {len(ended)} session(s) ended")
    return 0


async def _users_remove(name: str) -> int:
    stores = _Stores()
    try:
        removed = await stores.users.remove(name)
        ended = await stores.sessions.revoke_all(removed)
    finally:
        await stores.close()
    print(f"user {removed} removed; {len(ended)} session(s) ended")
    return 0


async def _users_list() -> int:
    stores = _Stores()
    try:
        names = await stores.users.names()
    finally:
        await stores.close()
    for name in names:
        print(name)
    return 0


async def _sessions_list(name: str) -> int:
    user = _user_argument(name)
    stores = _Stores()
    try:
        live = await stores.sessions.list_sessions(user)
    finally:
        await stores.close()
    for session_id in live:
        print(session_id)
    return 0


async def _sessions_end_all(name: str) -> int:
    user = _user_argument(name)
    stores = _Stores()
    try:
        ended = await stores.sessions.revoke_all(user)
    finally:
        await stores.close()
    print(f"{len(ended)} session(s) of {user} ended")
    return 0


def _user_argument(name: str) -> str:
    user = normalize_user_name(name)
    if user is None:
        raise VerifierError(f"{name!r} is not a valid user name")
    return user
