"""The process's resident memory, read from /proc (psutil is not a dependency)."""

from __future__ import annotations

import gc
import resource
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def current_rss_mib() -> float:
    """Resident set size now (VmRSS)."""
    kib = _status_kib("VmRSS")
    return kib / 1024 if kib is not None else float("nan")


def peak_rss_mib() -> float:
    """The highest resident set size this process has had (VmHWM; getrusage elsewhere)."""
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def settled_rss_mib() -> float:
    """RSS after a full garbage collection, so that a before/after difference counts
    what is still referenced rather than garbage awaiting collection."""
    gc.collect()
    gc.collect()
    return current_rss_mib()
