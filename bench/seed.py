"""``python -m bench.seed URL CASES``: migrate and seed a database in its own process.

The benchmark seeds in a child process so that the seeder's bulk lists do not count
towards the peak memory of the process that serves the pages.
"""

from __future__ import annotations

import sys

from cupboard.db import upgrade_database
from db.demo_cohort import seed_demo_cohort


def main(argv: list[str] | None = None) -> int:
    url, cases = (argv if argv is not None else sys.argv[1:])[:2]
    upgrade_database(url)
    print(seed_demo_cohort(url, cases=int(cases)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
