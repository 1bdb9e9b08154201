"""Where and with what a run happened: the one description every generated document carries (the parity report,
the book's notebook runs, the recipes' reproduction table)."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from importlib import metadata

import numpy as np


def environment() -> dict[str, str]:
    """``date`` (UTC), ``machine`` (system, architecture, CPUs), ``python``, ``numpy``, ``torch`` (the installed
    version, ``""`` without torch; torch is not imported) and ``threads`` (``OMP_NUM_THREADS`` or ``default``)."""
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = ""
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.system()} {platform.machine()} ({os.cpu_count()} CPUs)",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch_version,
        "threads": os.environ.get("OMP_NUM_THREADS", "default"),
    }
