"""`verifier keys generate|rotate|list|retire`: the key directory from the command line.

The commands read the same environment as the service (VERIFIER_KEYS_DIR and the
lifetimes that decide how long a superseded key verifies), so `list` shows exactly the
states the verifiers act on.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from verifier.errors import SettingsError
from verifier.keyring import admin
from verifier.keyring.loader import ring_policy
from verifier.keyring.material import (
    ACCESS,
    ASSERTION,
    ASSERTION_ALGORITHMS,
    DEFAULT_ASSERTION_ALGORITHM,
    USES,
    Key,
    KeyUse,
)
from verifier.observe.audit import AuditLog
from verifier.observe.command_audit import command_audit_log
from verifier.settings import ENV_PREFIX, Settings, load_settings, parse_signing_keys

_USE_CHOICES = [*USES, "all"]


def add_keys_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `keys` and its actions on the `verifier` command's subparsers."""
    keys = commands.add_parser(
        "keys", help="manage signing keys in VERIFIER_KEYS_DIR"
    ).add_subparsers(required=True, metavar="ACTION")

    generate = keys.add_parser("generate", help="create the first key(s), signing at once")
    _use_argument(generate)
    generate.add_argument(
        "--alg",
        choices=ASSERTION_ALGORITHMS,
        default=DEFAULT_ASSERTION_ALGORITHM,
        help="algorithm of a new assertion key (default %(default)s)",
    )
    generate.add_argument(
        "--force",
        action="store_true",
        help="add a key that signs at once even if keys of that use exist",
    )
    generate.set_defaults(handler=_generate)

    imported = keys.add_parser(
        "import",
        help="write a VERIFIER_JWT_KEYS list (kid:secret,..., read from stdin) as access keys",
    )
    imported.set_defaults(handler=_import)

    rotate = keys.add_parser("rotate", help="add a new key that signs after the publish delay")
    _use_argument(rotate)
    rotate.add_argument(
        "--publish-seconds",
        type=int,
        default=None,
        help="seconds before the new key signs (default: the publish delay, see docs/keys.md)",
    )
    rotate.add_argument(
        "--alg",
        choices=ASSERTION_ALGORITHMS,
        default=None,
        help="algorithm of the new assertion key (default: that of the current one)",
    )
    rotate.set_defaults(handler=_rotate)

    keys.add_parser("list", help="list keys and their states").set_defaults(handler=_list)

    retire = keys.add_parser("retire", help="delete a key that verifies nothing any more")
    retire.add_argument("kid")
    retire.add_argument(
        "--force",
        action="store_true",
        help="withdraw a key that still verifies (a compromised key)",
    )
    retire.set_defaults(handler=_retire)


def _use_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--use", choices=_USE_CHOICES, default="all", help="which keys (default %(default)s)"
    )


def _uses(choice: str) -> list[KeyUse]:
    if choice == "all":
        return list(USES)
    return [ACCESS if choice == ACCESS else ASSERTION]


def _settings() -> tuple[Settings, Path]:
    settings = load_settings(os.environ)
    if settings.keys_dir is None:
        raise SettingsError(
            f"{ENV_PREFIX}KEYS_DIR is not set: the keys commands manage a keys directory"
        )
    return settings, settings.keys_dir


def _now() -> int:
    return int(time.time())


def _audit(settings: Settings) -> AuditLog:
    return command_audit_log(settings.log_level, settings.log_format)


def _record_key(audit: AuditLog, event: str, key: Key, directory: Path) -> None:
    # The key's name and kind only: never its material.
    audit.record(
        event,
        kid=key.kid,
        use=key.use,
        alg=key.alg,
        activates_at=key.activates_at,
        directory=str(directory),
    )


def _generate(args: argparse.Namespace) -> int:
    settings, directory = _settings()
    created = admin.generate(
        directory, _uses(args.use), _now(), assertion_alg=args.alg, force=args.force
    )
    audit = _audit(settings)
    for key in created:
        _record_key(audit, "keys.generated", key, directory)
        print(f"generated {key.use} key {key.kid} ({key.alg}), signing now")
    return 0


def _import(args: argparse.Namespace) -> int:
    settings, directory = _settings()
    # Secrets come on stdin, never in argv (visible to every user in `ps`).
    signing_keys = parse_signing_keys(sys.stdin.read())
    imported = admin.import_access_keys(directory, signing_keys, _now())
    audit = _audit(settings)
    for index, key in enumerate(imported):
        _record_key(audit, "keys.imported", key, directory)
        role = "signing now" if index == 0 else "verifying its tokens for one access lifetime"
        print(f"imported access key {key.kid} (HS256), {role}")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    settings, directory = _settings()
    delay = admin.publish_delay_seconds(settings)
    publish_seconds = delay if args.publish_seconds is None else args.publish_seconds
    if publish_seconds < delay:
        print(
            f"verifier: warning: {publish_seconds} s is shorter than the publish delay "
            f"({delay} s): a verifier that has not reloaded yet, or an app with a cached "
            "JWKS, may refuse what the new key signs",
            file=sys.stderr,
        )
    rotated = admin.rotate(
        directory,
        _uses(args.use),
        _now(),
        publish_seconds,
        ring_policy(settings),
        assertion_alg=args.alg,
    )
    audit = _audit(settings)
    for key in rotated:
        _record_key(audit, "keys.rotated", key, directory)
        print(
            f"added {key.use} key {key.kid} ({key.alg}): published now, "
            f"signs from {admin.format_time(key.activates_at)}"
        )
    return 0


def _list(args: argparse.Namespace) -> int:
    settings, directory = _settings()
    rows = admin.describe(directory, ring_policy(settings), _now())
    table = [("KID", "USE", "ALG", "STATE", "CREATED", "ACTIVATES", "VERIFIES UNTIL")]
    for row in rows:
        until = "-" if row.verifies_until is None else admin.format_time(row.verifies_until)
        table.append(
            (
                row.kid,
                row.use,
                row.alg,
                row.state.value,
                admin.format_time(row.created),
                admin.format_time(row.activates_at),
                until,
            )
        )
    widths = [max(len(line[column]) for line in table) for column in range(len(table[0]))]
    for line in table:
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        print("  ".join(cells).rstrip())
    return 0


def _retire(args: argparse.Namespace) -> int:
    settings, directory = _settings()
    before = {key.kid: key for key in admin.existing_keys(directory)}
    print(admin.retire(directory, args.kid, ring_policy(settings), _now(), force=args.force))
    # Withdrawn keys keep a tombstone file; deleted ones are gone.
    after = {key.kid for key in admin.existing_keys(directory)}
    retired = before[args.kid]
    _audit(settings).record(
        "keys.retired",
        kid=retired.kid,
        use=retired.use,
        alg=retired.alg,
        directory=str(directory),
        outcome="withdrawn" if retired.kid in after else "deleted",
    )
    return 0
