"""Command line: ``python -m cupboard <command>``.

Every command validates its input at the boundary: a bad argument exits 2 with a
one-line message on stderr and changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cupboard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("init-db", help="apply database migrations up to the latest version")

    seed = sub.add_parser("seed-demo", help="add a deterministic synthetic demo cohort")
    seed.add_argument("--cases", type=int, default=40, help="number of cases (1-100000)")
    seed.add_argument("--seed", type=int, default=20261121, help="random seed")

    assess = sub.add_parser("assess", help="print guidance for a case profile (JSON)")
    assess.add_argument("case_file", help="case profile JSON file, or - for stdin")

    user = sub.add_parser("add-user", help="create an account (e.g. the first admin)")
    user.add_argument("username")
    user.add_argument("--name", required=True, help="display name")
    user.add_argument(
        "--role", required=True, help="navigator|oncologist|chair|pathologist|viewer|admin"
    )
    user.add_argument("--email", help="for OIDC sign-in (matched on first sign-in)")
    user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "assess":
        from cupboard.assess import run_assess

        return run_assess(args.case_file, sys.stdin, sys.stdout, sys.stderr)
    if args.command == "init-db":
        from cupboard.db import database_url, upgrade_database

        upgrade_database(database_url())
        print(f"database at head: {database_url(redact=True)}")
        return 0
    if args.command == "seed-demo":
        if not 1 <= args.cases <= 100_000:
            print("--cases: must be between 1 and 100000", file=sys.stderr)
            return 2
        from cupboard.db import database_url, upgrade_database
        from db.demo_cohort import seed_demo_cohort

        url = database_url()
        upgrade_database(url)
        report = seed_demo_cohort(url, cases=args.cases, seed=args.seed)
        print(report)
        return 0
    if args.command == "add-user":
        return _add_user(args)
    return 2  # argparse already refused anything else


def _add_user(args: argparse.Namespace) -> int:
    import getpass

    from cupboard.db import database_url, upgrade_database
    from cupboard.errors import ValidationError
    from cupboard.permissions import SYSTEM_ACTOR
    from cupboard.services.accounts import create_user

    if args.password_stdin:
        password: str | None = sys.stdin.readline().rstrip("\n")
    elif args.email and not sys.stdin.isatty():
        password = None  # an OIDC-only account
    else:
        password = getpass.getpass("Password: ")
    url = database_url()
    upgrade_database(url)
    try:
        user_id = create_user(
            url,
            SYSTEM_ACTOR,
            username=args.username,
            display_name=args.name,
            role=args.role,
            password=password or None,
            email=args.email,
        )
    except ValidationError as refused:
        print(str(refused), file=sys.stderr)
        return 2
    print(f"created user {args.username} ({args.role}) with id {user_id}")
    return 0
