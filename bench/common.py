"""Helpers every benchmark shares: percentiles and a description of the machine it ran on."""
from __future__ import annotations

import os
import platform
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of the values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine(**extra) -> dict:
    """CPU count and model, Python version, plus what the benchmark adds (library versions …)."""
    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": cpu_model, "python": platform.python_version(), **extra}
