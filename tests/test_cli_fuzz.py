"""Every command with nasty input: exit 2 and one plain line on stderr, never a trace.

The commands run in-process through ``cupboard.cli.main`` (a subprocess each would
take minutes); a few runs through ``python -m cupboard`` prove the real entry point.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cupboard import cli
from cupboard.db import unit_of_work
from cupboard.models import AuditEvent

REPO_ROOT = Path(__file__).resolve().parent.parent
RECENT = (dt.date.today() - dt.timedelta(days=2)).isoformat()
CSV_HEADER = b"mrn,name,sex,date_of_birth,referral_date,lesion_count\n"

# Whole files that cannot be read as what they claim to be: refused as a whole.
NASTY_FILES: dict[str, bytes] = {
    "empty": b"",
    "bom only": b"\xef\xbb\xbf",
    "binary": bytes(range(256)) * 8,
    "utf-16": "mrn,name\n".encode("utf-16"),
    "nul bytes": b"mrn,name\x00\n\x00\x00",
    "deep array": b"[" * 100_000 + b"]" * 100_000,
    "deep object": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    "huge integer": b'{"resourceType": "Bundle", "total": ' + b"9" * 5_000 + b"}",
    "huge float": b'{"resourceType": "Bundle", "type": "collection", "total": 1e999}',
    "NaN": b'{"resourceType": "Bundle", "type": "collection", "total": NaN}',
    "wrong type": b'{"resourceType": "Bundle", "type": "collection", "entry": "lots"}',
    "json list": b"[1, 2, 3]",
    "json string": b'"Bundle"',
    "transaction": (
        b'{"resourceType": "Bundle", "type": "transaction", "entry": '
        b'[{"request": {"method": "DELETE", "url": "Patient/1"}}]}'
    ),
    "no patient": b'{"resourceType": "Bundle", "type": "collection", "entry": []}',
    "unterminated": b'{"resourceType": "Bundle", "type": ',
    "header only": CSV_HEADER,
    "unknown column": b"mrn,name,shoe_size\nA,B,44\n",
    "giant field": CSV_HEADER + b"A," + b"x" * 200_000 + b"\n",
}

# Files whose rows (or values) are refused one by one: a report on stdout, exit 1.
BAD_ROWS: dict[str, bytes] = {
    "unclosed quote": CSV_HEADER + b'"A,B,female,1960-01-01,2026-01-01\n',
    "bad dates": CSV_HEADER + b"A,Ann,female,99999-01-01,2026-13-45,\n",
    "huge lesion count": CSV_HEADER + f"B,Bo,male,1960-01-01,{RECENT},".encode() + b"9" * 5000,
    "right-to-left override": CSV_HEADER + f"C,Ann\u202eeb,female,1960-01-01,{RECENT},\n".encode(),
}


@pytest.fixture
def cli_database(sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated SQLite database for the in-process runs (the refusals are the
    command line's own, the same on either database)."""
    path = tmp_path / "cli.sqlite"
    path.write_bytes(sqlite_template.read_bytes())
    url = f"sqlite:///{path}"
    monkeypatch.setenv("CUPBOARD_DATABASE_URL", url)
    monkeypatch.delenv("CUPBOARD_DEBUG", raising=False)
    return url


@pytest.fixture
def run(
    cli_database: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., tuple[int, str, str]]]:
    def _run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        monkeypatch.setattr(sys, "stdout", out)
        monkeypatch.setattr(sys, "stderr", err)
        try:
            code = cli.main(list(argv))
        except SystemExit as exit_:  # argparse's own refusals
            code = exit_.code if isinstance(exit_.code, int) else 2
        return code, out.getvalue(), err.getvalue()

    yield _run


def _one_plain_line(stderr: str) -> bool:
    return len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr


def _exports(url: str) -> int:
    with unit_of_work(url) as session:
        return (
            session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "export"))
            or 0
        )


def test_every_file_command_refuses_every_nasty_file_in_one_line(
    run: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()
    paths = {name: tmp_path / f"nasty-{n}" for n, name in enumerate(NASTY_FILES)}
    for name, path in paths.items():
        path.write_bytes(NASTY_FILES[name])
    fifo = tmp_path / "a-pipe"
    os.mkfifo(fifo)  # reading it would wait for a writer for ever
    too_large = tmp_path / "too-large.json"
    with too_large.open("wb") as sparse:
        sparse.truncate(cli.MAX_INPUT_BYTES + 1)
    special = [directory, tmp_path / "missing.json", Path("/dev/zero"), fifo, too_large]
    inputs = [*map(str, paths.values()), *map(str, special)]
    failures = []
    for command in ("import-referrals", "import-fhir", "assess"):
        for path in inputs:
            for extra in ((), ("--commit",)) if command != "assess" else ((),):
                code, out, err = run(command, path, *extra)
                if code != 2 or out or not _one_plain_line(err):
                    failures.append((command, Path(path).name, extra, code, err[:300]))
    assert failures == []


def test_rows_refused_one_by_one_are_a_report_not_a_crash(
    run: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    for name, content in BAD_ROWS.items():
        path = tmp_path / "rows.csv"
        path.write_bytes(content)
        code, out, err = run("import-referrals", str(path), "--commit")
        assert (code, err) == (1, ""), (name, code, err)
        assert "refused line 2" in out, (name, out)
        # A refused value is quoted, not pasted whole: every line of the report is readable.
        assert max(map(len, out.splitlines())) < 200, (name, out[:300])
    assert "name: contains an invisible formatting character (U+202E" in out


BAD_ARGUMENTS: list[tuple[str, ...]] = [
    (),
    ("no-such-command",),
    ("export-fhir",),
    ("export-fhir", "99999999999"),
    ("export-fhir", "99999999999999999999999999"),
    ("export-fhir", "-1"),
    ("export-fhir", "0"),
    ("export-fhir", "²"),
    ("export-fhir", "one"),
    ("export-fhir", "1"),  # no such case
    ("export-fhir", "1", "--as", "nobody"),
    ("export-fhir", "1", "--as", "x" * 10_000),
    ("export-fhir", "1", "--as", "\x00"),
    ("export-fhir", "1", "--output", "/no/such/directory/case.json"),
    ("export-queue", "99999999999", "--format", "csv", "--output", "q.csv"),
    ("export-queue", "7", "--format", "csv", "--output", "q.csv"),  # no such meeting
    ("export-queue", "7", "--format", "pdf", "--output", "q.csv"),
    ("export-cohort", "--format", "csv"),
    ("export-cohort", "--format", "xlsx", "--output", "/no/such/directory/c.xlsx"),
    ("export-cohort", "--format", "csv", "--output", "{directory}"),
    ("export-cohort", "--format", "csv", "--output", "/proc/cupboard-cannot-write-here"),
    ("seed-demo", "--cases", "0"),
    ("seed-demo", "--cases", "lots"),
    ("add-user", "x"),
    ("add-user", "x", "--name", "X", "--role", "emperor", "--password-stdin"),
    ("add-user", "x\x00", "--name", "X", "--role", "admin", "--password-stdin"),
    ("add-user", "eve", "--name", "Eve\u202eLIAM", "--role", "viewer", "--password-stdin"),
    ("add-user", "eve", "--name", "Eve", "--role", "viewer", "--email", "no", "--password-stdin"),
    ("add-user", "eve", "--name", "Eve", "--role", "viewer"),  # no terminal for the prompt
    ("assess", "-"),
]


def test_bad_arguments_exit_2_with_one_line(
    run: Callable[..., tuple[int, str, str]], tmp_path: Path, cli_database: str
) -> None:
    directory = tmp_path / "out"
    directory.mkdir()
    failures = []
    for argv in BAD_ARGUMENTS:
        argv = tuple(a.replace("{directory}", str(directory)) for a in argv)
        code, out, err = run(*argv, stdin="a long enough password 1\n")
        if code != 2 or out or not _one_plain_line(err):
            failures.append((argv[:3], code, out[:100], err[:300]))
    assert failures == []
    assert _exports(cli_database) == 0  # no refused export left an audit row


def test_an_export_that_cannot_be_written_is_not_audited(
    run: Callable[..., tuple[int, str, str]], tmp_path: Path, cli_database: str
) -> None:
    """The audit row says a file went out: it is written only once the file can be."""
    target = tmp_path / "cohort.csv"
    target.mkdir()  # the name is taken by a directory
    code, _, err = run("export-cohort", "--format", "csv", "--output", str(target))
    assert code == 2 and "is a directory" in err
    assert _exports(cli_database) == 0
    written = tmp_path / "written.csv"
    assert run("export-cohort", "--format", "csv", "--output", str(written))[0] == 0
    assert written.read_bytes().startswith(b"\xef\xbb\xbf")
    assert _exports(cli_database) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_an_unforeseen_error_is_one_line_and_exit_1_unless_debugging(
    run: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cupboard.services import interop

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail at /srv/cupboard/db.sqlite")

    monkeypatch.setattr(interop, "export_cohort", broken)
    code, out, err = run("export-cohort", "--format", "csv", "--output", "-")
    assert (code, out) == (1, "")
    assert _one_plain_line(err) and "RuntimeError" in err and "/srv" not in err
    monkeypatch.setenv("CUPBOARD_DEBUG", "1")
    with pytest.raises(RuntimeError):
        run("export-cohort", "--format", "csv", "--output", "-")


def _cupboard(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CUPBOARD_DATABASE_URL": url}
    env.pop("CUPBOARD_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "cupboard", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_real_entry_point_refuses_in_one_line(cli_database: str, tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_bytes(NASTY_FILES["deep array"])
    unreachable = "postgresql+psycopg://cupboard@127.0.0.1:1/cupboard"
    for args, url, message in (
        (("import-fhir", str(deep)), cli_database, "nested more than 64 levels"),
        (("export-fhir", "99999999999999"), cli_database, "must be a whole number"),
        (("export-cohort", "--format", "csv", "--output", "-"), unreachable, "cannot be reached"),
    ):
        result = _cupboard(*args, url=url)
        assert result.returncode == 2, result
        assert result.stdout == "" and _one_plain_line(result.stderr), result.stderr
        assert message in result.stderr
