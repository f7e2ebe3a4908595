"""``python -m bench.import_referrals``: a large referral CSV committed while others work.

Writes a referral file of ``--rows`` new patients (5,000 by default), imports it with
:func:`cupboard.services.interop.commit_referral_import` into a fresh migrated database
(SQLite file, or a PostgreSQL schema with ``--backend postgresql``), and meanwhile, from
a second thread, saves one small change every ``--probe-ms`` as another user would (a
case update through the service layer). Prints the import's time, the audit rows it
wrote per created record, and the other user's saves: how many succeeded, how many
failed, and the longest wait. Exits 1 when the import exceeds ``--limit`` seconds or any
other user's save failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from cupboard.db import get_engine, unit_of_work, upgrade_database
from cupboard.models import AuditEvent, Case, Patient
from cupboard.services.cases import Referral, register_referral
from cupboard.services.context import ServiceContext
from cupboard.services.interop import CLI_ACTOR, commit_referral_import

HEADER = "mrn,name,sex,date_of_birth,referral_date,metastatic_sites,presentation"


def referral_file(rows: int, today: dt.date) -> bytes:
    referred = (today - dt.timedelta(days=3)).isoformat()
    lines = [HEADER]
    for n in range(rows):
        born = dt.date(1940, 1, 1) + dt.timedelta(days=(n * 37) % 18000)
        sex = "female" if n % 2 else "male"
        lines.append(
            f"BENCH-{n:06d},Bench Patient {n},{sex},{born.isoformat()},{referred},"
            f"liver; bone,lesions on imaging"
        )
    return ("\n".join(lines) + "\n").encode()


def _other_user(
    url: str, stop: threading.Event, every: float, waits: list[float], errors: list[str]
) -> None:
    """Another user registering referrals by hand while the import runs."""
    ctx = ServiceContext(url, CLI_ACTOR)
    n = 0
    while not stop.is_set():
        started = time.perf_counter()
        try:
            register_referral(
                ctx,
                Referral(
                    mrn=f"HAND-{n:05d}",
                    name=f"Hand Entered {n}",
                    sex="female",
                    date_of_birth=dt.date(1955, 5, 5),
                    referral_date=dt.date.today() - dt.timedelta(days=1),
                    metastatic_sites=("lung",),
                ),
            )
            waits.append(time.perf_counter() - started)
        except Exception as error:  # the benchmark reports every failure, whatever it is
            errors.append(f"{type(error).__name__}: {error}"[:200])
        n += 1
        stop.wait(every)


def run(rows: int, probe_ms: int) -> dict[str, float | int | list[str]]:
    folder = Path(tempfile.mkdtemp(prefix="cupboard-bench-import-"))
    url = f"sqlite:///{folder / 'bench.sqlite3'}"
    try:
        upgrade_database(url)
        content = referral_file(rows, dt.date.today())
        ctx = ServiceContext(url, CLI_ACTOR)
        stop = threading.Event()
        waits: list[float] = []
        errors: list[str] = []
        other = threading.Thread(
            target=_other_user, args=(url, stop, probe_ms / 1000, waits, errors), daemon=True
        )
        other.start()
        started = time.perf_counter()
        result = commit_referral_import(ctx, content, "bench.csv")
        seconds = time.perf_counter() - started
        stop.set()
        other.join(timeout=30)
        with unit_of_work(url) as session:
            created = len(result.created_case_ids)
            audit_creates = session.scalar(
                select(func.count(AuditEvent.id)).where(
                    AuditEvent.action == "create", AuditEvent.entity.in_(("patient", "case"))
                )
            )
            patients = session.scalar(select(func.count(Patient.id)))
            cases = session.scalar(select(func.count(Case.id)))
        get_engine(url).dispose()
        return {
            "rows": rows,
            "created": created,
            "seconds": round(seconds, 2),
            "patients": patients or 0,
            "cases": cases or 0,
            "patient_and_case_create_audit_rows": audit_creates or 0,
            "other_user_saves": len(waits),
            "other_user_failures": len(errors),
            "other_user_longest_wait_s": round(max(waits, default=0.0), 2),
            "other_user_median_wait_s": round(statistics.median(waits), 3) if waits else 0.0,
            "errors": errors[:3],
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--probe-ms", type=int, default=500)
    parser.add_argument("--limit", type=float, default=15.0)
    args = parser.parse_args(argv)
    found = run(args.rows, args.probe_ms)
    for key, value in found.items():
        print(f"{key}: {value}")
    ok = float(found["seconds"]) <= args.limit and not found["other_user_failures"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
