"""``python -m bench.concurrency``: many users at once through the service layer.

K threads, each a signed-in navigator or chair with their own ``ServiceContext``, run
for a bounded time against a freshly seeded database (PostgreSQL; SQLite with a
warning when PostgreSQL is unreachable). The mix is 70 % reads (the MDT queue page's
meetings and agenda; the case page's record) and 30 % writes (an investigation's status with the
version the user saw when they last read that case; an ECOG score; a case added to a
meeting's agenda). Users concentrate on the cases on the next meetings' agendas, as a
board does, so version conflicts happen: they must come back as ``ConflictError``.

At the end every write that reported success is looked up: in its table (an
investigation's current version and status are those of its last successful write) and
in the audit trail (one audit row per successful write, none for conflicts). Anything
missing is a lost write; any exception other than a ``CupboardError`` is an error.

    python -m bench.concurrency --users 20 --seconds 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.databases import fresh_database, postgres_problem, seed
from bench.fixtures import bench_actor
from bench.report import BACKEND_NAMES, machine_summary, source_state, versions
from bench.stats import percentile
from cupboard.db import unit_of_work
from cupboard.errors import ConflictError, CupboardError
from cupboard.models import AgendaItem, AuditEvent, Case, EcogObservation, Investigation
from cupboard.services import case_record, queue
from cupboard.services.audit import to_json
from cupboard.services.context import ServiceContext
from cupboard.services.meetings import add_to_agenda, create_meeting
from cupboard.services.performance import record_ecog
from cupboard.services.queue import QueueFilter
from cupboard.services.workup import InvestigationEdit, save_workup_edits

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "bench" / "results" / "concurrency.md"
WRITE_P95_TARGET_MS = 100.0

# Operation -> share of all operations: 70 % reads, 30 % writes.
MIX: dict[str, float] = {
    "read_queue": 0.35,
    "read_case": 0.35,
    "write_status": 0.15,
    "write_ecog": 0.10,
    "write_agenda": 0.05,
}
READS = ("read_queue", "read_case")
WRITES = ("write_status", "write_ecog", "write_agenda")
# Statuses a user sets with one click (booking needs a date typed in).
ONE_CLICK_STATUSES = ("to_request", "requested", "done", "reported", "declined", "not_indicated")
HOT_SHARE = 0.6  # share of case picks from the cases on the next meetings' agendas
ROLES = ("navigator", "chair")  # both may update investigations, record ECOG, schedule


@dataclass(frozen=True)
class Outcome:
    operation: str
    ms: float
    result: str  # ok | conflict | refused | error


@dataclass(frozen=True)
class StatusWrite:
    investigation_id: int
    version_after: int
    status: str


@dataclass
class UserLog:
    outcomes: list[Outcome] = field(default_factory=list)
    status_writes: list[StatusWrite] = field(default_factory=list)
    ecog_rows: list[tuple[int, int, int]] = field(default_factory=list)  # id, case, score
    agenda_rows: list[tuple[int, int, int]] = field(default_factory=list)  # id, meeting, case
    errors: list[str] = field(default_factory=list)
    refusals: Counter[str] = field(default_factory=Counter)


@dataclass
class Verification:
    expected: dict[str, int] = field(default_factory=dict)  # successful writes per kind
    audited: dict[str, int] = field(default_factory=dict)  # audit rows written in the run
    stored: dict[str, int] = field(default_factory=dict)  # rows found as written
    lost: list[str] = field(default_factory=list)
    unexplained_audit_rows: int = 0
    investigations_written: int = 0  # distinct investigations with a successful write
    duplicate_agenda_positions: int = 0


@dataclass
class ConcurrencyResult:
    backend: str
    users: int
    seconds: float
    think_ms: float
    cases: int
    elapsed: float = 0.0
    seed_report: str = ""
    logs: list[UserLog] = field(default_factory=list)
    verification: Verification = field(default_factory=Verification)
    notes: list[str] = field(default_factory=list)

    @property
    def outcomes(self) -> list[Outcome]:
        return [o for log in self.logs for o in log.outcomes]

    @property
    def errors(self) -> list[str]:
        return [e for log in self.logs for e in log.errors]

    @property
    def conflicts(self) -> int:
        return sum(o.result == "conflict" for o in self.outcomes)

    @property
    def lost_writes(self) -> int:
        return len(self.verification.lost)

    def latencies(self, operations: Sequence[str], result: str | None = None) -> list[float]:
        return [
            o.ms
            for o in self.outcomes
            if o.operation in operations and (result is None or o.result == result)
        ]

    @property
    def write_p95_ms(self) -> float:
        return percentile(self.latencies(WRITES), 0.95)


@dataclass
class Workload:
    """What the users share: who they are, which cases are hot, where to add cases."""

    contexts: list[ServiceContext]
    meetings: list[int]
    hot_cases: list[int]
    all_cases: list[int]
    agenda_meeting: int


class SimulatedUser:
    def __init__(
        self, ctx: ServiceContext, workload: Workload, rng: random.Random, think_ms: float
    ) -> None:
        self.ctx = ctx
        self.workload = workload
        self.rng = rng
        self.think_ms = think_ms
        self.log = UserLog()
        # case id -> {investigation id: (version, status)} as this user last saw them
        self.seen: dict[int, dict[int, tuple[int, str]]] = {}
        self.last_case: int | None = None

    def pick_case(self) -> int:
        pool = self.workload.hot_cases
        if not pool or self.rng.random() >= HOT_SHARE:
            pool = self.workload.all_cases
        return self.rng.choice(pool)

    def run(self, deadline: float) -> None:
        operations, weights = list(MIX), list(MIX.values())
        actions: dict[str, Callable[[], str]] = {
            "read_queue": self.read_queue,
            "read_case": self.read_case,
            "write_status": self.write_status,
            "write_ecog": self.write_ecog,
            "write_agenda": self.write_agenda,
        }
        while time.perf_counter() < deadline:
            operation = self.rng.choices(operations, weights)[0]
            if operation == "write_status" and not self.seen:
                operation = "read_case"  # one opens a case before changing it
            self.timed(operation, actions[operation])
            if self.think_ms > 0:
                pause = self.rng.expovariate(1000 / self.think_ms)
                time.sleep(max(0.0, min(pause, deadline - time.perf_counter())))

    def timed(self, operation: str, action: Callable[[], str]) -> None:
        start = time.perf_counter()
        try:
            result = action()
        except ConflictError:
            result = "conflict"
        except CupboardError as refusal:
            result = "refused"
            self.log.refusals[f"{operation}: {str(refusal)[:90]}"] += 1
        except Exception as error:  # the benchmark's point: count every unexpected one
            result = "error"
            where = traceback.extract_tb(error.__traceback__)[-1]
            self.log.errors.append(
                f"{operation}: {type(error).__name__}: {str(error).splitlines()[0][:160]} "
                f"({Path(where.filename).name}:{where.lineno})"
            )
        self.log.outcomes.append(Outcome(operation, (time.perf_counter() - start) * 1000, result))

    def read_queue(self) -> str:
        # What the MDT queue page reads: the meetings to choose from, then one's agenda.
        today = dt.date.today()
        queue.meetings(self.ctx, from_date=today)
        meeting_id = self.rng.choice(self.workload.meetings)
        queue.meeting_queue(self.ctx, meeting_id, QueueFilter(), today)
        return "ok"

    def read_case(self) -> str:
        # What the case page reads (history closed): the whole record in one read.
        case_id = self.pick_case()
        record = case_record.case_record(self.ctx, case_id, dt.date.today(), timeline=False)
        self.seen[case_id] = {
            row.investigation_id: (row.version, row.status) for row in record.workup
        }
        self.last_case = case_id
        return "ok"

    def write_status(self) -> str:
        # Mostly the case on screen; sometimes one read a while ago (a stale tab).
        if self.last_case in self.seen and self.rng.random() < 0.8:
            case_id = self.last_case
        else:
            case_id = self.rng.choice(list(self.seen))
        assert case_id is not None
        investigation_id, (version, status) = self.rng.choice(list(self.seen[case_id].items()))
        target = self.rng.choice([s for s in ONE_CLICK_STATUSES if s != status])
        # As the case page saves it: the workup save, which returns the case's
        # investigations as they now stand (the page redraws from them).
        edit = InvestigationEdit(investigation_id, version, {"status": target})
        result = save_workup_edits(self.ctx, case_id, [edit])
        if result.refused:
            self.seen.pop(case_id, None)  # the page says reload
            raise result.refused[0][1]
        self.log.status_writes.append(StatusWrite(investigation_id, version + 1, target))
        self.seen[case_id] = {row.id: (row.version, row.status) for row in result.investigations}
        return "ok"

    def write_ecog(self) -> str:
        case_id = self.pick_case()
        score = self.rng.randint(0, 4)
        row_id = record_ecog(self.ctx, case_id, score=score, observed_on=dt.date.today())
        self.log.ecog_rows.append((row_id, case_id, score))
        return "ok"

    def write_agenda(self) -> str:
        case_id = self.rng.choice(self.workload.all_cases)
        meeting_id = self.workload.agenda_meeting
        item_id = add_to_agenda(self.ctx, meeting_id, case_id, question="Bench: next step?")
        self.log.agenda_rows.append((item_id, meeting_id, case_id))
        return "ok"


def prepare_workload(url: str, users: int) -> Workload:
    contexts = [
        ServiceContext(url, bench_actor(url, ROLES[n % len(ROLES)], n // len(ROLES) + 1))
        for n in range(users)
    ]
    chair = next(c for c in contexts if c.actor.role == "chair") if users > 1 else contexts[0]
    today = dt.date.today()
    upcoming = [m.id for m in queue.meetings(chair, from_date=today)[:2]]
    hot = sorted(
        {
            row.case_id
            for m in upcoming
            for row in queue.meeting_queue(chair, m, QueueFilter(), today)
        }
    )
    with unit_of_work(url) as session:
        all_cases = list(session.scalars(select(Case.id).order_by(Case.id)))
    schedule = next((c for c in contexts if c.actor.role in ("navigator", "chair")), chair)
    agenda_meeting = create_meeting(
        schedule, meeting_date=dt.date.today() + dt.timedelta(days=28), title="Bench MDT"
    )
    return Workload(contexts, upcoming or [agenda_meeting], hot, all_cases, agenda_meeting)


def _max_id(url: str, model: Any) -> int:
    with unit_of_work(url) as session:
        return int(session.scalar(select(func.coalesce(func.max(model.id), 0))) or 0)


def verify(url: str, result: ConcurrencyResult, before: dict[str, int], meeting: int) -> None:
    """Every successful write is in its table and in the audit trail; nothing else is."""
    check = result.verification
    status_writes = [w for log in result.logs for w in log.status_writes]
    ecog_rows = [r for log in result.logs for r in log.ecog_rows]
    agenda_rows = [r for log in result.logs for r in log.agenda_rows]
    check.expected = {
        "write_status": len(status_writes),
        "write_ecog": len(ecog_rows),
        "write_agenda": len(agenda_rows),
    }
    with unit_of_work(url) as session:
        audit = session.execute(
            select(
                AuditEvent.action,
                AuditEvent.entity,
                AuditEvent.entity_id,
                AuditEvent.entity_version,
                AuditEvent.field,
                AuditEvent.after,
                AuditEvent.reason,
            ).where(AuditEvent.id > before["audit"])
        ).all()
        status_changes = [
            row
            for row in audit
            if row.action == "update" and row.entity == "investigation" and row.field == "status"
        ]
        # The workup follows the record: an ECOG recorded can turn a "not indicated"
        # investigation to "to request", audited with the finding as its reason. A
        # user's own status change carries no reason.
        status_audit = Counter(
            (row.entity_id, row.entity_version, row.after)
            for row in status_changes
            if row.reason is None
        )
        followed_after: dict[int, list[int]] = {}
        for row in status_changes:
            if row.reason is not None:
                followed_after.setdefault(row.entity_id, []).append(row.entity_version)
        created = Counter((row.entity, row.entity_id) for row in audit if row.action == "create")
        check.audited = {
            "write_status": sum(status_audit.values()),
            "write_ecog": sum(n for (e, _), n in created.items() if e == "ecog_observation"),
            "write_agenda": sum(n for (e, _), n in created.items() if e == "agenda_item"),
        }
        # Investigations: one audit row per successful status write, and the row now
        # holds the version and status of its last successful write.
        last: dict[int, StatusWrite] = {}
        for write in status_writes:
            key = (write.investigation_id, write.version_after, to_json(write.status))
            if status_audit[key] != 1:
                check.lost.append(f"status write {write} has {status_audit[key]} audit rows")
            best = last.get(write.investigation_id)
            if best is None or write.version_after > best.version_after:
                last[write.investigation_id] = write
        stored = 0
        for investigation_id, write in last.items():
            row = session.get(Investigation, investigation_id)
            followed = [
                v for v in followed_after.get(investigation_id, []) if v > write.version_after
            ]
            if followed and row is not None and row.version == write.version_after + len(followed):
                # Changed after this write only by the workup following the record (each
                # later version one such change): the write was kept, then followed.
                stored += 1
                continue
            if row is None or (row.version, row.status) != (write.version_after, write.status):
                found = None if row is None else (row.version, row.status)
                check.lost.append(f"investigation {investigation_id}: {found}, expected {write}")
            else:
                stored += 1
        check.stored["write_status"] = stored
        check.investigations_written = len(last)
        # ECOG and agenda items: the row exists as written, with its create event.
        check.stored["write_ecog"] = 0
        for row_id, case_id, score in ecog_rows:
            row = session.get(EcogObservation, row_id)
            if row is None or (row.case_id, row.score) != (case_id, score):
                check.lost.append(f"ECOG {row_id} for case {case_id} missing or changed")
            elif created[("ecog_observation", row_id)] != 1:
                check.lost.append(f"ECOG {row_id} has no create audit row")
            else:
                check.stored["write_ecog"] += 1
        check.stored["write_agenda"] = 0
        for row_id, meeting_id, case_id in agenda_rows:
            row = session.get(AgendaItem, row_id)
            if row is None or (row.meeting_id, row.case_id) != (meeting_id, case_id):
                check.lost.append(f"agenda item {row_id} (case {case_id}) missing or changed")
            elif created[("agenda_item", row_id)] != 1:
                check.lost.append(f"agenda item {row_id} has no create audit row")
            else:
                check.stored["write_agenda"] += 1
        new_ecog = session.scalar(
            select(func.count(EcogObservation.id)).where(EcogObservation.id > before["ecog"])
        )
        if new_ecog != len(ecog_rows):
            check.lost.append(f"{new_ecog} new ECOG rows, {len(ecog_rows)} successful writes")
        positions = session.execute(
            select(AgendaItem.position, func.count(AgendaItem.id))
            .where(AgendaItem.meeting_id == meeting)
            .group_by(AgendaItem.position)
            .having(func.count(AgendaItem.id) > 1)
        ).all()
        check.duplicate_agenda_positions = sum(count - 1 for _, count in positions)
    explained = sum(check.expected.values())
    check.unexplained_audit_rows = sum(check.audited.values()) - explained


def run_concurrency(
    url: str, users: int, seconds: float, think_ms: float = 0.0, seed_value: int = 8
) -> ConcurrencyResult:
    """Run the users against an already seeded database and verify the writes."""
    result = ConcurrencyResult("", users, seconds, think_ms, 0)
    workload = prepare_workload(url, users)
    result.cases = len(workload.all_cases)
    before = {"audit": _max_id(url, AuditEvent), "ecog": _max_id(url, EcogObservation)}
    simulated = [
        SimulatedUser(ctx, workload, random.Random(seed_value * 1000 + n), think_ms)
        for n, ctx in enumerate(workload.contexts)
    ]
    start = time.perf_counter()
    deadline = start + seconds
    threads = [
        threading.Thread(target=user.run, args=(deadline,), name=f"user-{n}", daemon=True)
        for n, user in enumerate(simulated)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    result.elapsed = time.perf_counter() - start
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        result.notes.append(f"threads still running after the deadline: {', '.join(stuck)}")
    result.logs = [user.log for user in simulated]
    if stuck:
        result.logs[0].errors.append(f"{len(stuck)} users did not finish")
    verify(url, result, before, workload.agenda_meeting)
    return result


def run_on_fresh_database(
    backend: str, cases: int, users: int, seconds: float, think_ms: float = 0.0
) -> ConcurrencyResult:
    with fresh_database(backend, label="concurrency") as url:
        report = seed(url, cases)
        result = run_concurrency(url, users, seconds, think_ms)
    result.backend = backend
    result.seed_report = report
    return result


def _ms(value: float) -> str:
    return "–" if value != value else f"{value:.1f}"  # NaN check


def render(results: Sequence[ConcurrencyResult], command: str) -> str:
    lines = [
        "# cupboard concurrency results",
        "",
        f"- Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine_summary()}",
        f"- Software: {versions()}",
        f"- Source: {source_state()}",
        f"- Command: `{command}`",
        f"- Mix: {', '.join(f'{k} {v:.0%}' for k, v in MIX.items())}; "
        f"{HOT_SHARE:.0%} of case picks from the cases on the next two agendas.",
        "- Latency: wall time of the service call(s) of one operation, in the user's thread "
        "(all users share one Python process, as Streamlit's sessions do).",
        "",
    ]
    for result in results:
        outcomes = result.outcomes
        total = len(outcomes)
        writes = [o for o in outcomes if o.operation in WRITES]
        title = BACKEND_NAMES.get(result.backend, result.backend)
        think = f"think time {result.think_ms:g} ms (mean)" if result.think_ms else "no think time"
        lines += [
            f"## {title}: {result.users} users × {result.seconds:g} s, {think}",
            "",
            f"Seed: {result.seed_report}.",
            "",
            f"- Operations: {total} in {result.elapsed:.1f} s = "
            f"{total / result.elapsed:.0f} ops/s ({len(writes) / result.elapsed:.0f} writes/s)",
            f"- Reads p50 / p95: {_ms(percentile(result.latencies(READS), 0.5))} / "
            f"{_ms(percentile(result.latencies(READS), 0.95))} ms",
            f"- Writes p50 / p95: {_ms(percentile(result.latencies(WRITES), 0.5))} / "
            f"{_ms(result.write_p95_ms)} ms (target p95 < {WRITE_P95_TARGET_MS:g} ms: "
            f"{'ok' if result.write_p95_ms < WRITE_P95_TARGET_MS else '**MISSED**'})",
            f"- Conflicts (ConflictError, nothing saved): {result.conflicts}",
            f"- Errors: {len(result.errors)}",
            f"- Lost writes: {result.lost_writes}",
            "",
            "| operation | count | ok | conflict | refused | error | p50 ms | p95 ms | max ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for operation in MIX:
            mine = [o for o in outcomes if o.operation == operation]
            counts = Counter(o.result for o in mine)
            times = [o.ms for o in mine]
            lines.append(
                f"| {operation} | {len(mine)} | {counts['ok']} | {counts['conflict']} | "
                f"{counts['refused']} | {counts['error']} | {_ms(percentile(times, 0.5))} | "
                f"{_ms(percentile(times, 0.95))} | {_ms(max(times) if times else float('nan'))} |"
            )
        check = result.verification
        lines += [
            "",
            "Verification:",
            "",
            f"- write_status: {check.expected.get('write_status', 0)} successful writes, "
            f"{check.audited.get('write_status', 0)} status audit rows written in the run; "
            f"{check.stored.get('write_status', 0)} of the "
            f"{check.investigations_written} investigations written hold the version and "
            "status of their last successful write",
        ]
        for kind in ("write_ecog", "write_agenda"):
            lines.append(
                f"- {kind}: {check.expected.get(kind, 0)} successful writes, "
                f"{check.stored.get(kind, 0)} rows found as written, "
                f"{check.audited.get(kind, 0)} create audit rows written in the run"
            )
        lines.append(
            f"- audit rows not explained by a successful write: {check.unexplained_audit_rows}"
        )
        lines.append(
            f"- agenda items sharing a position in the bench meeting: "
            f"{check.duplicate_agenda_positions}"
        )
        refusals = Counter[str]()
        for log in result.logs:
            refusals.update(log.refusals)
        if refusals:
            lines += ["", "Refusals (expected, shown to the user):"]
            lines += [f"- {n} × {text}" for text, n in refusals.most_common(5)]
        errors = Counter(result.errors)
        if errors:
            lines += ["", "Errors:"]
            lines += [f"- {n} × `{text}`" for text, n in errors.most_common(10)]
        if check.lost:
            lines += ["", "Lost writes:"]
            lines += [f"- {text}" for text in check.lost[:10]]
        lines += [f"> {note}" for note in result.notes]
        lines.append("")
    return "\n".join(lines) + "\n"


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.concurrency", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument(
        "--think-ms",
        type=float,
        default=[0.0],
        nargs="+",
        help="mean pause between a user's operations; several values run several times",
    )
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    arguments = parser.parse_args(argv)
    if arguments.users < 1 or arguments.seconds <= 0 or arguments.seconds > 3600:
        parser.error("give at least one user and between 0 and 3600 seconds")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    from bench.run import quiet_streamlit

    quiet_streamlit()
    arguments = parse_arguments(argv)
    backend = arguments.backend
    if backend == "postgresql" and (problem := postgres_problem()) is not None:
        print(
            f"WARNING: PostgreSQL not reachable ({problem}); running on SQLite instead.",
            file=sys.stderr,
        )
        backend = "sqlite"
    results = []
    for think_ms in arguments.think_ms:
        print(
            f"[concurrency] {BACKEND_NAMES[backend]}: {arguments.users} users × "
            f"{arguments.seconds:g} s, think {think_ms:g} ms, {arguments.cases} cases",
            file=sys.stderr,
            flush=True,
        )
        results.append(
            run_on_fresh_database(
                backend, arguments.cases, arguments.users, arguments.seconds, think_ms
            )
        )
    command = "python -m bench.concurrency " + " ".join(
        sys.argv[1:] if argv is None else list(argv)
    )
    report = render(results, command.strip())
    if backend != arguments.backend:
        report += "\n> PostgreSQL was unreachable: these numbers are SQLite's.\n"
    print(report)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(report, encoding="utf-8")
    bad = sum(len(r.errors) + r.lost_writes for r in results)
    return 1 if bad else 0


def summary(result: ConcurrencyResult) -> dict[str, Any]:
    """The headline numbers as plain data (used by the smoke test)."""
    return {
        "operations": len(result.outcomes),
        "conflicts": result.conflicts,
        "errors": len(result.errors),
        "lost_writes": result.lost_writes,
        "write_p95_ms": result.write_p95_ms,
        "expected": dict(result.verification.expected),
        "audited": dict(result.verification.audited),
    }


if __name__ == "__main__":
    raise SystemExit(main())
