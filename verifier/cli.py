"""The `verifier` command: serve, check-config, users, sessions, tokens, keys, access, demo."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from verifier.access import AccessPolicy, AccessRequest, Identity
from verifier.access.explain import explain
from verifier.access.paths import normalized_path
from verifier.apitokens import BadTokenInput, Scope, TokenStore, lifetime_seconds, token_name
from verifier.apitokens.inputs import DEFAULT_LIFETIME
from verifier.errors import SettingsError, SettingsInvalid, StoreUnavailable, VerifierError
from verifier.factors.methods import PASSWORD, SignIn, checked_amr
from verifier.factors.user_factors import UserFactors
from verifier.keyring.commands import add_keys_commands
from verifier.observe.audit import record_revocation
from verifier.observe.causes import RevocationCause
from verifier.observe.command_audit import command_audit_log
from verifier.observe.metrics import TOKEN_CREATED, TOKEN_REVOKED
from verifier.observe.metrics.commands import command_revocations
from verifier.observe.metrics.exposition import MULTIPROC_ENV, check_bind_free, prepare_directory
from verifier.service.binds import (
    DEFAULT_BIND,
    OWNER_ONLY_UMASK,
    SOCKET_GROUP_ENV,
    BindInvalid,
    UnixBind,
    group_id,
    parse_binds,
    split_bind_variable,
)
from verifier.service.preflight import check_configuration, redis_problem
from verifier.sessions.store import REPLICAS_BEHIND, SessionPolicy, SessionStore
from verifier.settings import ENV_PREFIX, Settings, load_settings
from verifier.store import client_for
from verifier.store.keyspace import KeySpace, normalize_user_name
from verifier.store.outages import guard_for
from verifier.users.export import ExportRefused, parse_document, render_document, write_export_file
from verifier.users.htpasswd import HtpasswdRefused, parse_htpasswd
from verifier.users.passwords import PasswordHasher
from verifier.users.sources.accounts import UpstreamAccounts
from verifier.users.store import (
    UnknownUser,
    UserRecord,
    UserStore,
    checked_groups,
    parse_groups,
)
from verifier.users.throttle import PASSWORD_SPACE, SECOND_FACTOR_SPACE, account_counter_key

# Every Redis call of this module, timed under its name (verifier_redis_call_*).
_guard = guard_for("cli")

EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except SettingsInvalid as error:
        for problem in error.problems:
            print(f"verifier: configuration error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except SettingsError as error:
        print(f"verifier: configuration error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except StoreUnavailable as error:
        if str(error) == REPLICAS_BEHIND:
            # Written on the master; a failover could still undo it, so say so and fail.
            print(
                "verifier: Redis took the change, but fewer replicas than "
                "VERIFIER_REDIS_MIN_REPLICAS confirmed it in time: run the command again",
                file=sys.stderr,
            )
            return 1
        print("verifier: cannot reach Redis (check VERIFIER_REDIS_URL)", file=sys.stderr)
        return 1
    except VerifierError as error:
        print(f"verifier: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="verifier", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the service under gunicorn")
    serve.add_argument(
        "--bind",
        action="append",
        metavar="ADDRESS",
        help="HOST:PORT or unix:/absolute/path; repeat to listen on several "
        f"(default: {ENV_PREFIX}BIND, else {DEFAULT_BIND})",
    )
    serve.add_argument(
        "--socket-group",
        default=os.environ.get(SOCKET_GROUP_ENV),
        metavar="GROUP",
        help="the group (nginx's workers') that may connect to the Unix sockets; "
        "without it only the verifier's own user may",
    )
    serve.add_argument(
        "--workers", type=int, default=int(os.environ.get(ENV_PREFIX + "WORKERS", "2"))
    )
    serve.set_defaults(handler=_serve)

    check_config = commands.add_parser(
        "check-config",
        help="check the environment, key files, rules file and Redis; list every problem",
        description="Exit status: 0 no problem, 1 problems (one line each), 2 bad arguments.",
    )
    check_config.add_argument(
        "--no-redis",
        action="store_true",
        help="skip the Redis check (e.g. where Redis is not reachable, such as an image build)",
    )
    check_config.set_defaults(handler=_check_config)

    users = commands.add_parser("users", help="manage users").add_subparsers(
        required=True, metavar="ACTION"
    )
    add = users.add_parser("add", help="create a user (password from a prompt or stdin)")
    add.add_argument("name")
    _group_option(add, "--group", "put the user in GROUP")
    add.add_argument(
        "--service",
        action="store_true",
        help="a service account: no password and no sign-in, API tokens only",
    )
    add.set_defaults(handler=lambda a: _run(_users_add(a.name, a.group, service=a.service)))
    passwd = users.add_parser("passwd", help="set a new password and end every session")
    passwd.add_argument("name")
    passwd.set_defaults(handler=lambda a: _run(_users_passwd(a.name)))
    remove = users.add_parser("remove", help="delete a user and end every session and token")
    remove.add_argument("name")
    remove.set_defaults(handler=lambda a: _run(_users_remove(a.name)))
    _add_disable_commands(users)
    users.add_parser(
        "list", help="list users, their groups and password schemes (or service, disabled)"
    ).set_defaults(handler=lambda a: _run(_users_list()))
    groups = users.add_parser("groups", help="show a user's groups, or change them")
    groups.add_argument("name")
    _group_option(groups, "--add", "add GROUP")
    _group_option(groups, "--remove", "remove GROUP")
    groups.set_defaults(handler=lambda a: _run(_users_groups(a.name, a.add, a.remove)))
    imports = users.add_parser(
        "import-htpasswd", help="create users from an nginx auth_basic (htpasswd) file"
    )
    imports.add_argument("file", help="the htpasswd file ('-' for stdin)")
    _group_option(imports, "--group", "put every imported user in GROUP")
    imports.set_defaults(handler=lambda a: _run(_users_import(a.file, a.group)))
    _add_backup_commands(users)
    _add_factor_commands(users)
    _add_source_commands(users)

    sessions = commands.add_parser("sessions", help="inspect or end sessions").add_subparsers(
        required=True, metavar="ACTION"
    )
    listing = sessions.add_parser("list", help="list a user's live session ids")
    listing.add_argument("name")
    listing.set_defaults(handler=lambda a: _run(_sessions_list(a.name)))
    end_all = sessions.add_parser(
        "end-all", help="end every session of a user, and revoke their API tokens"
    )
    end_all.add_argument("name")
    end_all.set_defaults(handler=lambda a: _run(_sessions_end_all(a.name)))

    _add_token_commands(commands)

    _add_access_commands(commands)
    add_keys_commands(commands)

    _add_demo_command(commands)
    return parser


def _add_demo_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser("demo", help="run the local demo stack in the foreground")
    demo.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", "8080")))
    demo.add_argument(
        "--sso",
        action="store_true",
        help="single sign-on: a portal and three app hosts on *.localhost",
    )
    demo.add_argument(
        "--sources",
        type=_demo_sources,
        default=(),
        help="ldap, oidc or ldap,oidc: also start the tests' slapd and/or OpenID Provider",
    )
    demo.set_defaults(handler=_demo)


def _add_backup_commands(users: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = users.add_parser(
        "export", help="write every user (name, groups, created, password hash) as JSON"
    )
    export.add_argument(
        "file", nargs="?", default="-", help="where to write (mode 0600; '-', the default: stdout)"
    )
    export.set_defaults(handler=lambda a: _run(_users_export(a.file)))
    restore = users.add_parser("import", help="create users from a `users export` document")
    restore.add_argument(
        "file", nargs="?", default="-", help="the document ('-', the default: stdin)"
    )
    restore.add_argument(
        "--replace",
        action="store_true",
        help="give existing users the document's password hash and groups (a changed hash "
        "ends their sessions) instead of skipping them",
    )
    restore.set_defaults(handler=lambda a: _run(_users_restore(a.file, a.replace)))


def _add_factor_commands(users: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    show = users.add_parser("mfa", help="show a user's second factors")
    show.add_argument("name")
    show.set_defaults(handler=lambda a: _run(_users_mfa(a.name)))
    reset = users.add_parser(
        "mfa-reset", help="remove a user's TOTP and recovery codes and end every session"
    )
    reset.add_argument("name")
    reset.set_defaults(handler=lambda a: _run(_users_mfa_reset(a.name)))
    unlock = users.add_parser(
        "unlock", help="clear a user's throttles (wrong passwords and wrong codes)"
    )
    unlock.add_argument("name")
    unlock.set_defaults(handler=lambda a: _run(_users_unlock(a.name)))


def _add_source_commands(users: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    link = users.add_parser(
        "link",
        help="give a user name to an upstream identity (LDAP entryUUID / objectGUID, OpenID "
        "sub): their sign-ins through that source become this user; ends its sessions",
        description="A name belongs to one source: linking removes a local password. The "
        "upstream id is in the signin.name_taken audit record of a refused sign-in.",
    )
    link.add_argument("name")
    link.add_argument("source", help="the source's name in the sources file: ldap:ID or oidc:ID")
    link.add_argument("upstream_id", help="the source's immutable id for the person")
    link.set_defaults(handler=lambda a: _run(_users_link(a.name, a.source, a.upstream_id)))


def _add_disable_commands(users: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    disable = users.add_parser(
        "disable", help="refuse every sign-in of a user, and end every session and token"
    )
    disable.add_argument("name")
    disable.set_defaults(handler=lambda a: _run(_users_disable(a.name, disabled=True)))
    enable = users.add_parser("enable", help="let a disabled user sign in again")
    enable.add_argument("name")
    enable.set_defaults(handler=lambda a: _run(_users_disable(a.name, disabled=False)))


def _add_token_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tokens = commands.add_parser(
        "tokens", help="API tokens for scripts and services (Authorization: Bearer vrf_...)"
    ).add_subparsers(required=True, metavar="ACTION")
    create = tokens.add_parser(
        "create",
        help="make a token for a user and print it (only now: Redis keeps only its hash)",
        description="Prints the token alone on stdout (TOKEN=$(verifier tokens create ...)); "
        "at a terminal, what it is on the next line.",
    )
    create.add_argument("--user", required=True, help="whose token: it can do what they can")
    create.add_argument("--name", required=True, help="what it is for, e.g. ci-deploy")
    create.add_argument(
        "--expires",
        default=DEFAULT_LIFETIME,
        metavar="LIFETIME",
        help=f"how long it lives: 12h, 90d, 2w (default {DEFAULT_LIFETIME}; at most "
        "VERIFIER_API_TOKEN_MAX_DAYS)",
    )
    create.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="TERM",
        help="narrow it (repeatable): group:NAME carries only that of the user's groups, "
        "path:/PREFIX/ enters only paths under it",
    )
    create.set_defaults(handler=lambda a: _run(_tokens_create(a)))
    listing = tokens.add_parser(
        "list", help="list live tokens: id, user, name, scope, created, expires, last used"
    )
    listing.add_argument("--user", help="only this user's (default: every user's)")
    listing.set_defaults(handler=lambda a: _run(_tokens_list(a.user)))
    revoke = tokens.add_parser("revoke", help="revoke a token (or all of a user's) at once")
    revoke.add_argument("--user", required=True)
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("token_id", nargs="?", metavar="ID", help="the token's id (tokens list)")
    which.add_argument("--all", action="store_true", help="every token of the user")
    revoke.set_defaults(handler=lambda a: _run(_tokens_revoke(a.user, a.token_id, a.all)))


def _group_option(parser: argparse.ArgumentParser, flag: str, meaning: str) -> None:
    parser.add_argument(
        flag, action="append", default=[], metavar="GROUP", help=f"{meaning} (repeatable)"
    )


def _check_config(args: argparse.Namespace) -> int:
    preflight = check_configuration(os.environ, time.time())
    problems = list(preflight.problems)
    if not args.no_redis and preflight.redis is not None:
        unreachable = asyncio.run(redis_problem(preflight.redis))
        if unreachable is not None:
            problems.append(unreachable)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s)")
        return 1
    print("ok")
    return 0


def _add_access_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    access = commands.add_parser("access", help="test access rules").add_subparsers(
        required=True, metavar="ACTION"
    )
    check = access.add_parser(
        "check",
        help="print the decision for a request and the rule or declaration that made it",
        description="Exit status: 0 allowed, 1 denied, 2 bad arguments or configuration.",
    )
    check.add_argument("--user", required=True)
    check.add_argument("--method", default="GET")
    check.add_argument("--uri", required=True, help="the request URI, e.g. /admin/x?y=1")
    check.add_argument("--host", default="", help="the Host the request was for")
    check.add_argument(
        "--require",
        default="",
        metavar="DECLARATION",
        help='the location\'s $verifier_require, e.g. "group:admins"',
    )
    check.add_argument(
        "--groups",
        default=None,
        help="comma-separated groups to assume instead of the user's groups in Redis",
    )
    check.add_argument(
        "--amr",
        type=_amr_argument,
        default=(PASSWORD,),
        help="how the session signed in, comma-separated (pwd, otp, rcv, hwk, pin, fed, "
        "mfa); default pwd",
    )
    check.add_argument(
        "--signed-in-minutes-ago",
        type=_minutes_argument,
        default=0,
        metavar="N",
        help="how long ago the session signed in (for max_age); default 0",
    )
    check.set_defaults(handler=lambda a: _run(_access_check(a)))


def _serve(args: argparse.Namespace) -> int:
    # Where to listen first: a wrong address is a usage error, whatever the settings.
    bind_options = _bind_options(args)
    # Check the configuration here, so every bad value is one clear line, not a worker
    # traceback.
    preflight = check_configuration(os.environ, time.time())
    if preflight.settings is None:
        raise SettingsInvalid(preflight.problems)
    # Redis down is no reason to refuse to start: the service fails closed and recovers by
    # itself, and /readyz reports it. Starting keeps a restart of both from looping.
    unreachable = asyncio.run(redis_problem(preflight.settings.redis))
    if unreachable is not None:
        print(
            f"verifier: warning: {unreachable}; starting anyway (/readyz answers 503 until "
            "Redis answers)",
            file=sys.stderr,
        )
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or "gunicorn"
    command = [
        gunicorn,
        "--worker-class",
        "verifier.service.worker.VerifierWorker",
        *bind_options,
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
    ]
    if preflight.settings.log_format == "json":
        # gunicorn's own lines (and uvicorn's, which share its handlers) as JSON too.
        command += ["--logger-class", "verifier.observe.logs.JsonGunicornLogger"]
    command += _metrics_options(preflight.settings)
    # The hooks always run: they give the Unix sockets their group and mode before any
    # worker accepts a connection, and serve the metrics when those are on.
    command += ["--config", "python:verifier.service.gunicorn_hooks"]
    command.append("verifier.app:from_environment()")
    os.execv(gunicorn, command)  # replaces this process: signals reach gunicorn directly


def _metrics_options(settings: Settings) -> list[str]:
    """Prepare the metrics directory (in this environment, inherited by gunicorn); the hooks."""
    if settings.metrics_bind is None:
        # Workers must not write files nobody sums, whatever the environment says.
        os.environ.pop(MULTIPROC_ENV, None)
        return []
    # Taken now rather than found taken by the master after the workers started.
    check_bind_free(*settings.metrics_bind)
    os.environ[MULTIPROC_ENV] = str(prepare_directory(settings.metrics_dir))
    return []


def _bind_options(args: argparse.Namespace) -> list[str]:
    """gunicorn's --bind options, and what its hooks need to restrict the Unix sockets."""
    values = args.bind or split_bind_variable(os.environ.get(ENV_PREFIX + "BIND", DEFAULT_BIND))
    binds = parse_binds(values)
    sockets = [bind for bind in binds if isinstance(bind, UnixBind)]
    if args.socket_group is not None and not sockets:
        raise BindInvalid("--socket-group is for Unix sockets: no --bind unix:PATH is given")
    # Checked here, so a wrong name is one clear line before gunicorn starts.
    if args.socket_group is not None:
        # For the hooks in gunicorn's master (this environment is inherited): the id.
        os.environ[SOCKET_GROUP_ENV] = str(group_id(args.socket_group))
    else:
        os.environ.pop(SOCKET_GROUP_ENV, None)
    options = [option for bind in binds for option in ("--bind", str(bind))]
    if sockets:
        options += ["--umask", oct(OWNER_ONLY_UMASK)]
    return options


def _demo_sources(value: str) -> tuple[str, ...]:
    from verifier.demo import upstreams  # noqa: PLC0415

    try:
        return upstreams.parse(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _demo(args: argparse.Namespace) -> int:
    # Imported here: only the demo needs the process tooling.
    from verifier.demo.launcher import run_demo  # noqa: PLC0415

    status: int = run_demo(args.port, sso=args.sso, sources=args.sources)
    return status


def _run(action: Awaitable[int]) -> int:
    return asyncio.run(_with_timeout(action))


async def _with_timeout(action: Awaitable[int]) -> int:
    return await asyncio.wait_for(action, timeout=30)


class _Stores:
    """The stores an admin command needs, built from the same environment as the service."""

    def __init__(self, settings: Settings | None = None) -> None:
        settings = load_settings(os.environ) if settings is None else settings
        self.settings = settings
        self.audit = command_audit_log(settings.log_level, settings.log_format)
        self.redis = client_for(settings)
        keys = KeySpace(settings.key_prefix)
        self.keys = keys
        self.hasher = PasswordHasher(max_parallel=1)
        self.users = UserStore(self.redis, keys, self.hasher)
        self.factors = UserFactors(self.redis, keys)
        self.tokens = TokenStore(self.redis, keys, time.time)
        self.token_max_days = settings.api_token_max_days
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
            replica_ack=settings.replica_ack,
        )
        self.revocations = command_revocations(settings)

    async def __aenter__(self) -> _Stores:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.redis.aclose()
        self.hasher.close()

    async def existing(self, name: str) -> str:
        """`name` if such a user exists; UnknownUser otherwise."""
        if not await self.users.exists(name):
            raise UnknownUser(name)
        return name

    async def end_sessions(
        self, user: str, cause: RevocationCause, live_tokens: Sequence[str] | None = None
    ) -> list[str]:
        """End every session of `user`, which voids every API token of theirs: recorded
        (session.revoked, token.revoked) and counted under `cause`.

        `live_tokens`: the user's tokens as listed before something else voided them (a
        removal); by default they are listed here, first.
        """
        if live_tokens is None:
            live_tokens = [info.token_id for info in await self.tokens.owned_by(user)]
        ended = await self.sessions.revoke_all(user)
        record_revocation(self.audit, cause, user, ended)
        self.revocations.revoked(cause, len(ended))
        # Void since the script above (it deleted their epoch): now their records go too.
        await self.tokens.revoke_all(user)
        self.tokens_revoked(user, live_tokens, cause.value)
        return ended

    async def revoke_tokens(self, user: str, cause: str) -> list[str]:
        """Revoke every API token of `user`: recorded (token.revoked) and counted."""
        revoked = await self.tokens.revoke_all(user)
        self.tokens_revoked(user, revoked, cause)
        return revoked

    def tokens_revoked(self, user: str, token_ids: Sequence[str], cause: str) -> None:
        """Record `token.revoked` and count the tokens; nothing when there were none."""
        if token_ids:
            self.audit.record(
                "token.revoked",
                user=user,
                tokens=",".join(token_ids),
                count=len(token_ids),
                cause=cause,
            )
            self.revocations.api_tokens(TOKEN_REVOKED, len(token_ids))


def _read_new_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != first:
            raise VerifierError("the passwords differ")
        return first
    # Scripts pipe the password in: one line, without its newline.
    return sys.stdin.readline().rstrip("\r\n")


async def _users_add(name: str, groups: Sequence[str], *, service: bool = False) -> int:
    wanted = checked_groups(groups)  # before the password prompt, not after it
    async with _Stores() as stores:
        if service:
            created = await stores.users.add_service(name, wanted)
        else:
            created = await stores.users.add(name, _read_new_password(), wanted)
        stores.audit.record(
            "user.created",
            user=created,
            groups=",".join(wanted),
            **({"kind": "service"} if service else {}),
        )
    kind = "service account" if service else "user"
    print(f"{kind} {created} added" + (f" to groups {','.join(wanted)}" if wanted else ""))
    return 0


async def _users_passwd(name: str) -> int:
    async with _Stores() as stores:
        changed = await stores.users.set_password(name, _read_new_password())
        stores.audit.record("user.password_changed", user=changed)
        ended = await stores.end_sessions(changed, RevocationCause.PASSWORD_CHANGE)
    print(f"password of {changed} changed; {len(ended)} session(s) ended")
    return 0


async def _users_remove(name: str) -> int:
    async with _Stores() as stores:
        # Listed first: the removal voids them (with the record, in one step).
        user = normalize_user_name(name)
        live = [t.token_id for t in await stores.tokens.owned_by(user)] if user else []
        removed = await stores.users.remove(name)
        stores.audit.record("user.removed", user=removed)
        # A new user of the same name must not inherit this one's second factors.
        await stores.factors.remove_all(removed)
        ended = await stores.end_sessions(removed, RevocationCause.REMOVAL, live)
    print(f"user {removed} removed; {len(ended)} session(s) ended")
    return 0


async def _users_link(name: str, source: str, upstream_id: str) -> int:
    user = _user_argument(name)
    async with _Stores() as stores:
        known = stores.settings.sources.names()
        if source not in known:
            listed = ", ".join(known) or "none: set VERIFIER_SOURCES_FILE"
            raise VerifierError(f"no source {source} in the sources file (sources: {listed})")
        if not upstream_id or len(upstream_id) > 255 or not upstream_id.isprintable():
            raise VerifierError("the upstream id must be 1-255 printable characters")
        accounts = UpstreamAccounts(stores.redis, stores.keys)
        former = await accounts.link(user, source, upstream_id, time.time())
        stores.audit.record(
            "user.linked", user=user, source=source, upstream_id=upstream_id, former=former or None
        )
        # Its sessions came from its former source (or none): they end with the change.
        ended = await stores.end_sessions(user, RevocationCause.ADMIN)
    was = f" (was {former})" if former else " (new user)"
    print(f"user {user} linked to {source}{was}; {len(ended)} session(s) ended")
    return 0


async def _users_disable(name: str, *, disabled: bool) -> int:
    user = _user_argument(name)
    async with _Stores() as stores:
        changed = await stores.users.set_disabled(user, disabled)
        if not disabled:
            if changed:
                stores.audit.record("user.enabled", user=user)
            print(f"{user} enabled" if changed else f"{user} was not disabled")
            return 0
        if changed:
            stores.audit.record("user.disabled", user=user)
        # Every time, not only on a change: a second `disable` is how to be sure.
        revoked = [info.token_id for info in await stores.tokens.owned_by(user)]
        ended = await stores.end_sessions(user, RevocationCause.ADMIN, revoked)
    state = "disabled" if changed else "was disabled already"
    print(f"{user} {state}; {len(ended)} session(s) ended, {len(revoked)} token(s) revoked")
    return 0


async def _tokens_create(args: argparse.Namespace) -> int:
    user = _user_argument(args.user)
    async with _Stores() as stores:
        try:
            name = token_name(args.name)
            lifetime = lifetime_seconds(args.expires, stores.token_max_days)
            scope = Scope.parse(args.scope)
        except BadTokenInput as bad:
            raise VerifierError(str(bad)) from None
        new = await stores.tokens.create(user, name, scope, lifetime)
        info = new.info
        stores.audit.record(
            "token.created", user=user, token=info.token_id, scope=str(scope), expires=info.expires
        )
        stores.revocations.api_tokens(TOKEN_CREATED)
    # The secret alone on stdout, for TOKEN=$(verifier tokens create ...); a person at a
    # terminal is also told what it is (stderr carries the audit record, JSON or not).
    print(str(new.token))
    if sys.stdout.isatty():
        print(
            f"token {info.token_id} ({name}) for {user}, scope: {scope.describe()}, expires "
            f"{_iso(info.expires)}; shown only now (Redis keeps only its hash)"
        )
    return 0


async def _tokens_list(name: str | None) -> int:
    async with _Stores() as stores:
        if name:
            users = [await stores.existing(_user_argument(name))]
        else:
            users = await stores.users.names()
        listed = [info for user in users for info in await stores.tokens.owned_by(user)]
    # Tab-separated for scripts: id, user, name, scope ("-": none), created, expires, last used.
    for info in listed:
        print(
            "\t".join(
                [
                    info.token_id,
                    info.user,
                    info.name,
                    str(info.scope) or "-",
                    _iso(info.created),
                    _iso(info.expires),
                    _iso(info.last_used) if info.last_used is not None else "never",
                ]
            )
        )
    return 0


async def _tokens_revoke(name: str, token_id: str | None, every: bool) -> int:
    user = _user_argument(name)
    async with _Stores() as stores:
        await stores.existing(user)
        if every:
            revoked = await stores.revoke_tokens(user, "admin")
            print(f"{len(revoked)} token(s) of {user} revoked")
            return 0
        assert token_id is not None  # noqa: S101 (argparse: one of the two is required)
        if not await stores.tokens.revoke(user, token_id):
            raise VerifierError(f"{user} has no live token {token_id!r}")
        stores.audit.record("token.revoked", user=user, tokens=token_id, count=1, cause="admin")
        stores.revocations.api_tokens(TOKEN_REVOKED)
    print(f"token {token_id} of {user} revoked")
    return 0


def _iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


async def _users_mfa(name: str) -> int:
    user = _user_argument(name)
    async with _Stores() as stores:
        await stores.existing(user)
        status = await stores.factors.status(user)
    totp = "enrolled" if status.totp else "not enrolled"
    # Passkeys only when there are some: the line stays as it was for everyone else.
    passkeys = f"; passkeys: {status.passkeys}" if status.passkeys else ""
    print(f"{user}: totp {totp}; recovery codes left: {status.recovery_codes_left}{passkeys}")
    return 0


async def _users_mfa_reset(name: str) -> int:
    user = _user_argument(name)
    async with _Stores() as stores:
        await stores.existing(user)
        removed = await stores.factors.remove_all(user)
        stores.audit.record("user.mfa_reset", user=user, removed=int(removed))
        # The factor may be on a lost or stolen device: no session it helped open lives on.
        ended = await stores.end_sessions(user, RevocationCause.ADMIN)
    what = "TOTP and recovery codes removed" if removed else "no second factor to remove"
    print(f"{user}: {what}; {len(ended)} session(s) ended")
    return 0


async def _users_unlock(name: str) -> int:
    user = _user_argument(name)
    async with _Stores() as stores:
        cleared = 0
        # One key per call: the counters live in different Redis Cluster slots.
        for space in (PASSWORD_SPACE, SECOND_FACTOR_SPACE):
            key = account_counter_key(stores.keys, user, space)
            cleared += int(await _guard(stores.redis.delete(key)))
        stores.audit.record("user.unlocked", user=user, counters_cleared=cleared)
    print(f"{user}: {cleared} throttle counter(s) cleared")
    return 0


async def _users_list() -> int:
    async with _Stores() as stores:
        summaries = await stores.users.summaries()
    # Tab-separated for scripts: name, groups ("-" for none), password scheme ("service" for a
    # service account), then ",disabled" for a disabled account.
    for user in summaries:
        sign_in = user.password_scheme + (",disabled" if user.disabled else "")
        print(f"{user.name}\t{','.join(user.groups) or '-'}\t{sign_in}")
    return 0


async def _users_groups(name: str, add: Sequence[str], remove: Sequence[str]) -> int:
    async with _Stores() as stores:
        if add or remove:
            before = await stores.users.groups(name)
            groups = await stores.users.change_groups(name, add=add, remove=remove)
            _audit_groups(stores, _user_argument(name), before, groups)
        else:
            groups = await stores.users.groups(name)
    print(f"{_user_argument(name)}: {','.join(groups) or '(no groups)'}")
    return 0


def _audit_groups(stores: _Stores, user: str, before: Sequence[str], after: Sequence[str]) -> None:
    """Record `user.groups_changed` with what was added and removed, if anything was."""
    added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
    if added or removed:
        stores.audit.record(
            "user.groups_changed",
            user=user,
            added=",".join(added),
            removed=",".join(removed),
            groups=",".join(after),
        )


async def _users_import(path: str, groups: Sequence[str]) -> int:
    wanted = checked_groups(groups)
    data = _read_input(path)
    try:
        entries = parse_htpasswd(data)
    except HtpasswdRefused as refused:
        raise VerifierError(f"{path}: {refused}") from refused
    stores = _Stores()
    imported = 0
    try:
        for entry in entries:
            # A name that exists is left as it is (password, groups): re-running an
            # interrupted or repeated import is safe.
            if await stores.users.import_hashed(entry.name, entry.password_hash, wanted):
                imported += 1
                stores.audit.record(
                    "user.created", user=entry.name, groups=",".join(wanted), source="htpasswd"
                )
                print(f"imported {entry.name} ({entry.scheme})")
            else:
                print(f"skipped {entry.name}: already a user (line {entry.line})")
        stores.audit.record("users.imported", imported=imported, skipped=len(entries) - imported)
    finally:
        await stores.close()
    skipped = len(entries) - imported
    summary = f"{imported} user(s) imported, {skipped} skipped"
    print(summary + (f"; groups {','.join(wanted)}" if wanted and imported else ""))
    return 0


async def _users_export(path: str) -> int:
    async with _Stores() as stores:
        records = await stores.users.records()
    # Recorded before the write: an attempt to take the password hashes out is the event.
    stores.audit.record("users.exported", count=len(records), to="stdout" if path == "-" else path)
    text = render_document(records, int(time.time()))
    if path == "-":
        sys.stdout.write(text)
        return 0
    try:
        write_export_file(Path(path), text)
    except OSError as error:
        raise VerifierError(f"cannot write {path}: {error.strerror}") from error
    print(f"{len(records)} user(s) exported to {path} (it holds password hashes: keep it secret)")
    return 0


async def _users_restore(path: str, replace: bool) -> int:
    data = _read_input(path)
    try:
        records = parse_document(data)
    except ExportRefused as refused:
        listed = "".join(f"\n  {problem}" for problem in refused.problems)
        source = "stdin" if path == "-" else path
        raise VerifierError(f"{source}: refused, nothing imported:{listed}") from refused
    stores = _Stores()
    counts = dict.fromkeys(_RESTORE_OUTCOMES, 0)
    try:
        for record in records:
            outcome, line = await _restore_one(stores, record, replace)
            counts[outcome] += 1
            print(line)
        stores.audit.record("users.restored", **counts)
    finally:
        await stores.close()
    print(", ".join(f"{count} {outcome}" for outcome, count in counts.items()))
    return 0


_RESTORE_OUTCOMES = ("imported", "replaced", "unchanged", "skipped")


async def _restore_one(stores: _Stores, record: UserRecord, replace: bool) -> tuple[str, str]:
    """Import one user; return the outcome (one of _RESTORE_OUTCOMES) and a line saying it."""
    name = record.name
    if await stores.users.import_hashed(
        name, record.password_hash, record.groups, record.created, disabled=record.disabled
    ):
        stores.audit.record(
            "user.created", user=name, groups=",".join(record.groups), source="import"
        )
        return "imported", f"imported {name}"
    if not replace:
        # Left as it is (password, groups, sessions): importing the same file twice is safe.
        return "skipped", f"skipped {name}: already a user"
    groups_before = await stores.users.groups(name)
    hash_changed = await stores.users.replace_hash(name, record.password_hash)
    # Through the store's setter: the change is published, so every worker drops what it
    # cached for the user.
    groups = await stores.users.set_groups(name, record.groups)
    changes = []
    if hash_changed:
        # A different password, as after `users passwd`: no session opened with the old one
        # lives on.
        stores.audit.record("user.password_changed", user=name, source="import")
        ended = await stores.end_sessions(name, RevocationCause.PASSWORD_CHANGE)
        changes.append(f"password hash replaced, {len(ended)} session(s) ended")
    if groups != groups_before:
        _audit_groups(stores, name, groups_before, groups)
        changes.append(f"groups {','.join(groups) or '(none)'}")
    if await stores.users.set_disabled(name, record.disabled):
        stores.audit.record("user.disabled" if record.disabled else "user.enabled", user=name)
        changes.append("disabled" if record.disabled else "enabled")
        if record.disabled and not hash_changed:
            await stores.end_sessions(name, RevocationCause.ADMIN)
    if not changes:
        return "unchanged", f"unchanged {name}"
    return "replaced", f"replaced {name}: {'; '.join(changes)}"


def _read_input(path: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        raise VerifierError(f"cannot read {path}: {error.strerror}") from error


async def _sessions_list(name: str) -> int:
    user = _user_argument(name)
    async with _Stores() as stores:
        live = await stores.sessions.list_sessions(user)
    for session_id in live:
        print(session_id)
    return 0


async def _sessions_end_all(name: str) -> int:
    user = _user_argument(name)
    async with _Stores() as stores:
        # The action's own record first, then session.revoked (as every other action).
        live = [info.token_id for info in await stores.tokens.owned_by(user)]
        ended = await stores.sessions.revoke_all(user)
        stores.audit.record("sessions.ended", user=user, count=len(ended))
        record_revocation(stores.audit, RevocationCause.ADMIN, user, ended)
        stores.revocations.revoked(RevocationCause.ADMIN, len(ended))
        # Void since the script above; their records go now, with their own record.
        await stores.tokens.revoke_all(user)
        stores.tokens_revoked(user, live, RevocationCause.ADMIN.value)
    tokens = f", {len(live)} token(s) revoked" if live else ""
    print(f"{len(ended)} session(s) of {user} ended{tokens}")
    return 0


async def _access_check(args: argparse.Namespace) -> int:
    user = _user_argument(args.user)
    settings = load_settings(os.environ)
    if args.groups is not None:
        groups = parse_groups(args.groups)
    else:
        stores = _Stores(settings)
        try:
            groups = await stores.users.groups(user)
        except UnknownUser:
            raise VerifierError(
                f"user {user} does not exist (use --groups to assume some)"
            ) from None
        finally:
            await stores.close()
    request = AccessRequest(
        host=args.host.lower(),
        path=normalized_path(args.uri),
        method=args.method.upper(),
        declaration=args.require,
    )
    now = time.time()
    sign_in = SignIn(args.amr, int(now) - args.signed_in_minutes_ago * 60)
    policy = AccessPolicy(settings.rules, settings.mfa_required_groups)
    decision, line = explain(policy, Identity(user, groups, sign_in), request, now)
    print(line)
    return 0 if decision.allowed else 1


def _amr_argument(text: str) -> tuple[str, ...]:
    try:
        return checked_amr(method.strip() for method in text.split(","))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _minutes_argument(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 7):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of minutes")
    return int(text)


def _user_argument(name: str) -> str:
    user = normalize_user_name(name)
    if user is None:
        raise VerifierError(f"{name!r} is not a valid user name")
    return user
