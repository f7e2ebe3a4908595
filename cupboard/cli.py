"""Command line: ``python -m cupboard <command>``.

Every command validates its input at the boundary: a bad argument exits 2 with a
one-line message on stderr and changes nothing.

The interoperability commands (export-fhir, import-referrals, import-fhir,
export-cohort, export-queue) act as the server operator with a navigator's
permissions, audited as ``cli``; ``--as USERNAME`` acts as that account instead.
Imports are dry runs unless ``--commit`` is given. Exit codes: 0 done, 1 done but
some rows were refused (see the report), 2 bad input (nothing written). Whatever goes
wrong, stderr gets one line, never a Python traceback: an error nobody foresaw exits 1
with its type named, and ``CUPBOARD_DEBUG=1`` shows its trace for the administrator.
"""

from __future__ import annotations

import argparse
import logging
import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from cupboard.permissions import Actor
    from cupboard.services.context import ServiceContext
    from cupboard.trials import RegisteredTrial


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def _record_id(raw: str) -> int:
    """An id argument: a whole number the database can hold (argparse says which)."""
    from cupboard import validation as v
    from cupboard.errors import ValidationError

    try:
        return v.record_id("id", raw)
    except ValidationError as refused:
        raise argparse.ArgumentTypeError(refused.message) from None


def _add_interop_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    as_user = {"dest": "as_user", "metavar": "USERNAME", "help": "act as this account"}
    identifiers = {
        "action": "store_true",
        "help": "include names, MRNs and birth dates (default: pseudonymised)",
    }

    fhir = sub.add_parser("export-fhir", help="a case as a FHIR R4 Bundle (JSON)")
    fhir.add_argument("case_id", type=_record_id)
    fhir.add_argument("--output", help="file to write (default: standard output)")
    fhir.add_argument("--identifiers", **identifiers)
    fhir.add_argument("--as", **as_user)

    referrals = sub.add_parser("import-referrals", help="referrals from a CSV file")
    referrals.add_argument("file", help="CSV file (columns: docs/import-formats.md)")
    referrals.add_argument("--commit", action="store_true", help="write the valid rows")
    referrals.add_argument("--as", **as_user)

    bundle = sub.add_parser("import-fhir", help="a case from a FHIR Bundle (cupboard export)")
    bundle.add_argument("file", help="FHIR Bundle JSON file")
    bundle.add_argument("--commit", action="store_true", help="write the case")
    bundle.add_argument("--as", **as_user)

    cohort = sub.add_parser("export-cohort", help="one row per case (CSV or Excel)")
    cohort.add_argument("--format", required=True, choices=("csv", "xlsx"))
    cohort.add_argument("--output", required=True, help="file to write")
    cohort.add_argument("--identifiers", **identifiers)
    cohort.add_argument("--as", **as_user)

    queue = sub.add_parser("export-queue", help="a meeting's agenda (CSV or Excel)")
    queue.add_argument("meeting_id", type=_record_id)
    queue.add_argument("--format", required=True, choices=("csv", "xlsx"))
    queue.add_argument("--output", required=True, help="file to write")
    queue.add_argument("--identifiers", **identifiers)
    queue.add_argument("--as", **as_user)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m cupboard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("init-db", help="apply database migrations up to the latest version")

    seed = sub.add_parser("seed-demo", help="add a deterministic synthetic demo cohort")
    seed.add_argument("--cases", type=int, default=40, help="number of cases (1-100000)")
    seed.add_argument("--seed", type=int, default=20261121, help="random seed")

    assess = sub.add_parser("assess", help="print guidance for a case profile (JSON)")
    assess.add_argument("case_file", help="case profile JSON file, or - for stdin")

    trials = sub.add_parser("match-trials", help="rank trials for a case profile (JSON)")
    trials.add_argument("case_file", help="case profile JSON file, or - for stdin")
    trials.add_argument("--trials", help="a JSON list of trials (default: the recruiting register)")
    trials.add_argument("--prior-lines", type=int, help="prior systemic therapy lines")

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

    _add_interop_commands(sub)
    return parser


ENV_DEBUG = "CUPBOARD_DEBUG"


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    debug = os.environ.get(ENV_DEBUG, "").strip() not in ("", "0")
    # The library's warnings (e.g. an import's unreadable bundle) are for the
    # administrator: shown with CUPBOARD_DEBUG, otherwise kept off the one-line stderr
    # (without a handler, Python would print them there, trace and all).
    if debug:
        logging.basicConfig(level=logging.DEBUG)
    else:
        logging.getLogger("cupboard").addHandler(logging.NullHandler())
    try:
        return _run(args)
    except Exception as error:
        if debug:
            raise
        return _refuse(error)


def _refuse(error: Exception) -> int:
    """Any error as one line on stderr: 2 for what the user can put right, 1 otherwise."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from cupboard.db import ENV_DATABASE_URL, database_url
    from cupboard.errors import CupboardError

    if isinstance(error, CupboardError):
        return _fail(str(error))
    if isinstance(error, OperationalError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    ):
        return _fail(
            f"database: cannot be reached at {database_url(redact=True)} "
            f"(check {ENV_DATABASE_URL} and that the server is running)"
        )
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return _fail(f"{where}{error.strerror or type(error).__name__}")
    print(
        f"python -m cupboard: unexpected error ({type(error).__name__}); nothing more was "
        f"done. Run again with {ENV_DEBUG}=1 to see the details.",
        file=sys.stderr,
    )
    return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "assess":
        from cupboard.assess import run_assess

        if args.case_file != "-":
            _check_input(args.case_file)
        return run_assess(args.case_file, sys.stdin, sys.stdout, sys.stderr)
    if args.command == "match-trials":
        return _match_trials(args)
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
        from cupboard.services.installation import ProductionDatabaseError, claim_for_demo
        from db.demo_cohort import seed_demo_cohort

        url = database_url()
        upgrade_database(url)
        try:
            # Synthetic patients and the published demo accounts never go into a
            # database that holds anything real (issue 14).
            claim_for_demo(url)
        except ProductionDatabaseError as refused:
            return _fail(str(refused))
        report = seed_demo_cohort(url, cases=args.cases, seed=args.seed)
        print(report)
        return 0
    if args.command == "add-user":
        return _add_user(args)
    if args.command in INTEROP_COMMANDS:
        return _interop(args)
    return 2  # argparse already refused anything else


def _match_trials(args: argparse.Namespace) -> int:
    from cupboard.match_trials import run_match_trials

    for path in (args.case_file, args.trials):
        if path not in (None, "-"):
            _check_input(path)
    return run_match_trials(
        args.case_file,
        args.trials,
        args.prior_lines,
        _recruiting_register,
        sys.stdin,
        sys.stdout,
        sys.stderr,
    )


def _recruiting_register() -> tuple[RegisteredTrial, ...]:
    from cupboard.db import database_url, upgrade_database
    from cupboard.services.context import ServiceContext
    from cupboard.services.interop import CLI_ACTOR
    from cupboard.services.trials import list_trials

    url = database_url()
    upgrade_database(url)
    ctx = ServiceContext(url, CLI_ACTOR)
    return tuple(t.registered() for t in list_trials(ctx, recruiting_only=True))


INTEROP_COMMANDS = (
    "export-fhir",
    "import-referrals",
    "import-fhir",
    "export-cohort",
    "export-queue",
)


def _fail(message: str) -> int:
    """Bad input: one line on stderr, nothing on stdout, exit 2."""
    print(" ".join(message.split()), file=sys.stderr)
    return 2


def _check_output(path: str | None) -> str | None:
    if path is None or path == "-":
        return None
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        return f"--output: directory {parent} does not exist"
    return None


def _interop(args: argparse.Namespace) -> int:
    from cupboard.db import database_url, upgrade_database
    from cupboard.errors import CupboardError
    from cupboard.services.context import ServiceContext
    from cupboard.services.interop import CLI_ACTOR

    problem = _check_output(getattr(args, "output", None))
    if problem:
        return _fail(problem)
    url = database_url()
    upgrade_database(url)
    try:
        actor = _acting_as(url, args.as_user) if args.as_user else CLI_ACTOR
        ctx = ServiceContext(url, actor)
        if args.command == "export-fhir":
            return _export_fhir(ctx, args)
        if args.command in ("export-cohort", "export-queue"):
            return _export_table(ctx, args)
        return _import(ctx, args)
    except CupboardError as refused:
        return _fail(str(refused))


def _acting_as(url: str, username: str) -> Actor:
    """``--as USERNAME``: that account, but never a demo account outside demo mode
    (their password is published)."""
    from cupboard.errors import CupboardError
    from cupboard.services.installation import is_demo_account
    from cupboard.services.interop import actor_for_username
    from cupboard.startup import demo_mode

    actor = actor_for_username(url, username)
    if is_demo_account(url, actor.user_id) and not demo_mode(url):
        raise CupboardError(
            f"--as: {actor.username} is a demo account; demo accounts act only in demo mode"
        )
    return actor


class _Output:
    """Where an export goes. A file is opened (as a hidden file beside it) before the
    export is built and audited, so that an audit row never stands for a file that
    could not be written; the bytes then replace the target in one rename."""

    def __init__(self, output: str | None) -> None:
        self.path = None if output in (None, "-") else Path(output)
        self._temporary: Path | None = None
        if self.path is None:
            return
        from cupboard.errors import CupboardError

        if self.path.is_dir():
            raise CupboardError(f"--output: {output} is a directory; name a file")
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.part")
        try:
            temporary.touch(exist_ok=False)
        except OSError as error:
            raise CupboardError(f"--output: cannot write {output} ({error.strerror})") from None
        self._temporary = temporary

    def write(self, content: bytes) -> None:
        if self._temporary is None or self.path is None:
            sys.stdout.buffer.write(content)
            sys.stdout.flush()
            return
        self._temporary.write_bytes(content)
        os.replace(self._temporary, self.path)
        self._temporary = None

    def discard(self) -> None:
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)
            self._temporary = None


def _export_fhir(ctx: ServiceContext, args: argparse.Namespace) -> int:
    from cupboard.services.interop import export_case_fhir

    output = _Output(args.output)
    try:
        exported = export_case_fhir(ctx, args.case_id, include_identifiers=args.identifiers)
        output.write(exported.content + b"\n")
    finally:
        output.discard()
    if output.path is not None:
        print(f"wrote {args.output} (FHIR R4 Bundle, case {args.case_id})")
    return 0


def _export_table(ctx: ServiceContext, args: argparse.Namespace) -> int:
    from cupboard.services.interop import export_cohort, export_queue

    output = _Output(args.output)
    try:
        if args.command == "export-cohort":
            exported = export_cohort(ctx, args.format, include_identifiers=args.identifiers)
        else:
            exported = export_queue(
                ctx,
                args.meeting_id,
                args.format,
                include_identifiers=args.identifiers,
            )
        output.write(exported.content)
    finally:
        output.discard()
    kind = "with identifiers" if args.identifiers else "pseudonymised"
    print(f"wrote {args.output} ({exported.rows} rows, {kind})")
    return 0


# The largest file any command reads (a FHIR bundle's limit); each format's own reader
# has its tighter one. Checked before reading, so /dev/zero or a 10 GB file is refused
# rather than read into memory.
MAX_INPUT_BYTES = 20_000_000


def _check_input(path: str) -> Path:
    """A regular file of a sensible size, or a one-line refusal naming it."""
    from cupboard.errors import CupboardError

    try:
        found = Path(path).stat()
    except OSError as error:
        raise CupboardError(f"{path}: cannot read the file ({error.strerror})") from None
    if not stat.S_ISREG(found.st_mode):
        kind = "a directory" if stat.S_ISDIR(found.st_mode) else "not a regular file"
        raise CupboardError(f"{path}: is {kind}; give a file")
    if found.st_size > MAX_INPUT_BYTES:
        raise CupboardError(
            f"{path}: is too large ({found.st_size / 1e6:.0f} MB; at most "
            f"{MAX_INPUT_BYTES / 1e6:.0f} MB)"
        )
    return Path(path)


def _read_file(path: str) -> bytes:
    from cupboard.errors import CupboardError

    try:
        return _check_input(path).read_bytes()
    except OSError as error:
        raise CupboardError(f"{path}: cannot read the file ({error.strerror})") from None


def _import(ctx: ServiceContext, args: argparse.Namespace) -> int:
    from cupboard.services import interop

    content = _read_file(args.file)
    source = Path(args.file).name
    if args.command == "import-referrals":
        preview, commit = interop.preview_referral_import, interop.commit_referral_import
    else:
        preview, commit = interop.preview_fhir_import, interop.commit_fhir_import
    report = preview(ctx, content, source)
    for line in interop.report_lines(report):
        print(line)
    if not args.commit:
        if report.to_import:
            print(
                f"dry run: nothing was written; add --commit to import the "
                f"{len(report.to_import)} valid row(s)"
            )
        else:
            print("dry run: nothing was written; nothing to import")
        return 1 if report.problems else 0
    result = commit(ctx, content, source)
    # Real patients make the database production at once, so that a demo server running
    # on it stops letting the published demo accounts in (issue 14).
    from cupboard.services.installation import settle

    settle(ctx.database_url)
    print(f"committed: {result.summary}")
    return 1 if result.problems else 0


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
    elif not sys.stdin.isatty():
        # A script or a pipe: getpass would warn on stderr and then read the pipe.
        return _fail("password: standard input is not a terminal; give --password-stdin")
    else:
        try:
            password = getpass.getpass("Password: ")
        except EOFError:  # Ctrl-D at the prompt
            return _fail("password: none was typed; nothing was created")
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
