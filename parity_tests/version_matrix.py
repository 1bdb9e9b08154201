"""The versions matrix: the whole parity suite across torch releases, NumPy releases and Pythons.

``python3 noxfile.py -s versions`` runs :data:`COMBOS`, one combination after another, in four phases:

1. **Plan.** For each combination, the interpreter of its Python resolves the project's test requirements with
   the combination's pins (``pip install --dry-run --ignore-installed --report``): the exact files it needs.
   The plan is kept in the cache (``plans/<id>.json``) and reused on later runs (``--refresh`` resolves again),
   so a machine with every file cached runs the matrix without a network.
2. **Say the size.** Before anything is downloaded, a table gives each combination's files, their size, how
   much of it is cached and how much is left to download, with the total.
3. **Download** what is missing into the wheel cache (``~/.cache/dlfs-parity/wheels``, or
   ``$DLFS_WHEELHOUSE``), with a progress line, each file checked against its sha256 and renamed into place
   only when complete. Files already on this machine (``file://`` links of a local index) are not copied.
4. **Run** each combination in its own venv (``.nox/versions/<id>``), installed from those files with
   ``--no-index --no-deps``: the test suite (JUnit XML), then the parity report's per-case errors, into
   ``report/versions/<id>.json``. A CUDA build's venv (several GB) is deleted afterwards unless
   ``--keep-venvs``; the next run reinstalls it from the cache.

A combination that cannot be installed (no wheel for its Python, the registry out of reach, a failed
download, too little disk) is recorded as ``not installable`` with the reason; it is not a parity failure
and the other combinations still run. The session fails only when a combination that installed fails.

This module (and the three it imports, ``_io``, ``_markdown`` and ``tolerances``) uses the standard library
only: the nox process, which has neither NumPy nor the project installed, imports it from the working tree, and
the report imports it to render the same table (:func:`render`).

The machine's own pip configuration may cap torch (``/etc/xdg/pip``: ``torch<=2.14.1`` where those wheels lie
on disk); every pip call here sets ``PIP_CONSTRAINT`` to the empty file instead, since each combination pins
its own versions. Indexes and find-links from that configuration still apply, so files on the local disk are
used where they exist.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ._io import write_atomic
from ._markdown import cell, table
from .tolerances import CATEGORIES, category_of

__all__ = [
    "BASELINE",
    "COMBOS",
    "Combo",
    "Download",
    "NotInstallableError",
    "Plan",
    "PlannedFile",
    "changes",
    "classify_pip_failure",
    "fetch",
    "format_size",
    "junit_outcomes",
    "main",
    "plan_from_report",
    "render",
    "worst_errors",
]

MB = 1_000_000
GB = 1_000 * MB


# --------------------------------------------------------------------------------------------------------
# The combinations
# --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Combo:
    """One Python, torch and NumPy combination (``numpy="latest"``: the newest release the registry has)."""

    python: str
    torch: str
    numpy: str
    role: str
    torchvision: str | None = None

    @property
    def id(self) -> str:
        vision = f"-torchvision{self.torchvision}" if self.torchvision else ""
        return f"py{self.python}-torch{self.torch}{vision}-numpy{self.numpy}"

    def pins(self) -> list[str]:
        """The requirements this combination adds to the project's own."""
        pins = [f"torch=={self.torch}", "numpy" if self.numpy == "latest" else f"numpy=={self.numpy}"]
        if self.torchvision:
            pins.append(f"torchvision=={self.torchvision}")
        return pins


OLDEST_TORCH = "2.4.1"  # the newest patch of the floor in pyproject.toml (torch>=2.4); a test keeps them in step
NEWEST_TORCH = "2.15.0"  # the newest release on the registry on 2026-12-03
PINNED_TORCH = "2.13.0+cpu"  # constraints.txt: the local CPU build every other session uses

COMBOS: tuple[Combo, ...] = (
    Combo("3.11", OLDEST_TORCH, "1.26.4", "the oldest torch pyproject.toml admits, with the oldest NumPy"),
    Combo("3.11", "2.8.0", "latest", "a release in the middle"),
    Combo("3.11", PINNED_TORCH, "1.26.4", "the pinned CPU build with the oldest NumPy pyproject.toml admits (CI)"),
    Combo("3.11", PINNED_TORCH, "2.0.2", "the pinned CPU build with NumPy 2.0"),
    Combo("3.11", PINNED_TORCH, "latest", "baseline: the pinned CPU build as the tests session installs it"),
    Combo("3.11", "2.14.1", "latest", "torchvision's transforms against the project's fallback", "0.29.1"),
    Combo("3.11", NEWEST_TORCH, "latest", "the newest torch"),
    Combo("3.12", NEWEST_TORCH, "latest", "the newest torch on Python 3.12"),
    Combo("3.13", NEWEST_TORCH, "latest", "the newest torch on Python 3.13"),
)
BASELINE = COMBOS[4].id  # the other combinations' changes are measured against this one


# --------------------------------------------------------------------------------------------------------
# Plans: what a combination installs, resolved once by pip
# --------------------------------------------------------------------------------------------------------
@dataclass
class PlannedFile:
    """One distribution file of a plan: ``url`` is ``https://...`` (to download) or ``file://...`` (local)."""

    name: str
    version: str
    url: str
    sha256: str | None
    size: int | None = None

    @property
    def filename(self) -> str:
        return urllib.parse.unquote(urllib.parse.urlsplit(self.url).path.rsplit("/", 1)[-1])

    @property
    def local_path(self) -> Path | None:
        """The file itself for a ``file://`` URL, else None."""
        parts = urllib.parse.urlsplit(self.url)
        return Path(urllib.parse.unquote(parts.path)) if parts.scheme == "file" else None


@dataclass
class Plan:
    """The resolved files of one combination, as pip chose them for its interpreter."""

    combo: str
    python: str
    requirements: list[str]
    files: list[PlannedFile]
    resolved: str  # when pip resolved it (local time)
    versions: dict[str, str] = field(default_factory=dict)  # name (lower case) -> version

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        files = [PlannedFile(**f) for f in data["files"]]
        return cls(
            str(data["combo"]),
            str(data["python"]),
            list(data["requirements"]),
            files,
            str(data["resolved"]),
            dict(data.get("versions", {})),
        )

    def is_cuda_build(self) -> bool:
        """True when torch pulls NVIDIA runtime packages (a venv of several GB)."""
        return any(f.name.lower().startswith("nvidia-") for f in self.files)


def plan_from_report(combo: Combo, requirements: Sequence[str], report: Mapping[str, Any]) -> Plan:
    """A :class:`Plan` from pip's installation report (``pip install --dry-run --report``, format version 1).

    Editable or directory requirements (the project itself) are left out: they are installed from the
    working tree. Raises ``ValueError`` naming what was expected when the report has another shape.
    """
    if not isinstance(report.get("install"), list):
        raise ValueError(f"expected pip's installation report with an 'install' list, received keys {sorted(report)}")
    files: list[PlannedFile] = []
    versions: dict[str, str] = {}
    for item in report["install"]:
        info = item.get("download_info", {})
        meta = item.get("metadata", {})
        name, version = str(meta.get("name", "?")), str(meta.get("version", "?"))
        if "dir_info" in info:  # the project (editable) or a local folder
            continue
        hashes = (info.get("archive_info") or {}).get("hashes") or {}
        sha256 = hashes.get("sha256") or _hash_from_url(str(info.get("url", "")))
        files.append(PlannedFile(name, version, str(info["url"]), sha256))
        versions[name.lower()] = version
    return Plan(combo.id, combo.python, list(requirements), files, time.strftime("%Y-%m-%d %H:%M:%S"), versions)


def _hash_from_url(url: str) -> str | None:
    fragment = urllib.parse.urlsplit(url).fragment
    return fragment.split("=", 1)[1] if fragment.startswith("sha256=") else None


class NotInstallableError(Exception):
    """A combination this machine cannot install; the message is the reason, for the result table."""


_NETWORK_SIGNS = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "Connection refused",
    "Max retries exceeded",
    "ConnectTimeoutError",
    "Read timed out",
)


def classify_pip_failure(output: str, python: str) -> str:
    """The reason, in one line, why pip could not resolve a combination, from pip's own output."""
    if any(sign in output for sign in _NETWORK_SIGNS):
        return "the registry could not be reached (no network?) and no plan is cached"
    missing = re.search(r"No matching distribution found for (\S+)", output)
    if missing:
        return f"no distribution of {missing.group(1)} for Python {python} on this platform"
    if "ResolutionImpossible" in output or "conflicting dependencies" in output:
        conflict = re.search(r"The conflict is caused by:\s*(.+?)(?:\n\s*\n|To fix)", output, re.S)
        detail = " ".join(conflict.group(1).split()) if conflict else "see pip's output"
        return f"pip found the requirements in conflict: {detail}"
    errors = [line.strip() for line in output.splitlines() if line.strip().startswith("ERROR")]
    return errors[-1] if errors else (output.strip().splitlines() or ["pip failed without a message"])[-1]


# --------------------------------------------------------------------------------------------------------
# Sizes, downloads and progress
# --------------------------------------------------------------------------------------------------------
def format_size(n: float) -> str:
    """``3.93 GB``, ``512 MB``, ``0 MB``: decimal units, as download sizes are usually given."""
    return f"{n / GB:.2f} GB" if n >= GB else f"{n / MB:.0f} MB"


def remote_size(url: str, *, timeout: float = 60.0) -> int:
    """The ``Content-Length`` of a HEAD request (raises ``OSError`` when the server does not answer)."""
    request = urllib.request.Request(url, method="HEAD")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
    if length is None:
        raise OSError(f"no Content-Length for {url}")
    return int(length)


@dataclass
class Download:
    """Progress of one download session: the totals it announced, and what arrived so far."""

    total: int
    stream: TextIO = sys.stderr
    interval: float = 5.0
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    _last: float = 0.0

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def update(self, n: int, label: str, *, force: bool = False) -> None:
        self.done += n
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        rate = self.rate()
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        share = 100.0 * self.done / self.total if self.total else 100.0
        eta_text = f"{eta:.0f} s left" if eta != float("inf") else "rate unknown"
        self.stream.write(
            f"  downloaded {format_size(self.done)} of {format_size(self.total)} ({share:.0f}%), "
            f"{rate / MB:.1f} MB/s, {eta_text}: {label}\n"
        )
        self.stream.flush()


def fetch(file: PlannedFile, wheelhouse: Path, progress: Download | None = None, *, timeout: float = 60.0) -> Path:
    """The path of ``file`` on this machine: the local file of a ``file://`` URL, a cached copy in
    ``wheelhouse``, or a fresh download into it (checked against its sha256 before it is renamed into place).

    Raises ``NotInstallableError`` when the download fails or the hash differs (the partial file is removed).
    """
    if (local := file.local_path) is not None:
        if not local.is_file():
            raise NotInstallableError(f"the plan's local file {local} is gone (run with --refresh)")
        return local
    target = wheelhouse / file.filename
    if target.is_file():
        return target
    wheelhouse.mkdir(parents=True, exist_ok=True)

    def download(tmp: Path) -> None:  # into a temporary name that write_atomic renames, or removes on error
        digest = hashlib.sha256()
        with urllib.request.urlopen(file.url, timeout=timeout) as response, tmp.open("wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                if progress is not None:
                    progress.update(len(chunk), file.filename)
        if file.sha256 and digest.hexdigest() != file.sha256:
            raise NotInstallableError(
                f"{file.filename}: expected sha256 {file.sha256}, received a file with sha256 {digest.hexdigest()}"
            )

    try:
        write_atomic(target, download)
    except (OSError, urllib.error.URLError) as exc:
        raise NotInstallableError(f"downloading {file.filename} failed: {exc}") from exc
    return target


def _needs_download(file: PlannedFile, wheelhouse: Path) -> bool:
    return file.local_path is None and not (wheelhouse / file.filename).is_file()


def cached_bytes(plan: Plan, wheelhouse: Path) -> tuple[int, int]:
    """(bytes already on this machine, bytes to download) for a plan whose sizes are known."""
    missing = sum(f.size or 0 for f in plan.files if _needs_download(f, wheelhouse))
    return sum(f.size or 0 for f in plan.files) - missing, missing


def fill_sizes(plan: Plan, wheelhouse: Path) -> None:
    """Set each file's size: from the disk where it is there, else by asking the server (HEAD)."""
    for f in plan.files:
        if f.size is not None:
            continue
        local = f.local_path or wheelhouse / f.filename
        f.size = local.stat().st_size if local.is_file() else remote_size(f.url)


# --------------------------------------------------------------------------------------------------------
# Results: JUnit outcomes and parity errors
# --------------------------------------------------------------------------------------------------------
def junit_outcomes(path: Path) -> tuple[dict[str, int], dict[str, str]]:
    """Counts (passed, failed, errors, skipped, total) and ``{test id: outcome}`` for every test that did not
    pass (``failed``, ``error`` or ``skipped: <reason>``), from a pytest JUnit XML file."""
    root = ET.parse(path).getroot()
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    outcomes: dict[str, str] = {}
    for case in root.iter("testcase"):
        test = f"{case.get('classname', '')}::{case.get('name', '')}"
        if case.find("failure") is not None:
            counts["failed"] += 1
            outcomes[test] = "failed"
        elif case.find("error") is not None:
            counts["errors"] += 1
            outcomes[test] = "error"
        elif (skip := case.find("skipped")) is not None:
            counts["skipped"] += 1  # pytest's JUnit XML writes an expected failure as a skip of type pytest.xfail
            kind = "expected failure" if skip.get("type") == "pytest.xfail" else "skipped"
            outcomes[test] = f"{kind}: {skip.get('message', '')}".strip()
        else:
            counts["passed"] += 1
    return {**counts, "total": sum(counts.values())}, outcomes


def case_errors(parity_json: Mapping[str, Any]) -> dict[str, float]:
    """``{"<component> | <case> | <dtype> | <key>": error}`` for every compared value of a parity report."""
    errors: dict[str, float] = {}
    for component in parity_json["components"]:
        for case in component["cases"]:
            for key, error in case["errors"].items():
                if error == error:  # not NaN
                    errors[f"{component['spec']} | {case['case']} | {case['dtype']} | {key}"] = float(error)
    return errors


def worst_errors(errors: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """The worst error per dtype and category (forward, gradient, trajectory) of :func:`case_errors`."""
    worst: dict[str, dict[str, float]] = {}
    for name, error in errors.items():
        _, _, dtype, key = name.split(" | ", 3)
        slot = worst.setdefault(dtype, {})
        category = category_of(key)
        slot[category] = max(slot.get(category, 0.0), error)
    return worst


# An error counts as changed when it grew this many times against the baseline and is above the floor of its
# dtype (two orders of magnitude below the tolerance tiers: 1e-12 for float64, 1e-5 for float32), so that
# round-off moving between 1e-17 and 1e-16 is not reported as a change.
CHANGE_FACTOR = 10.0
CHANGE_FLOOR = {"float64": 1e-14, "float32": 1e-7}


def changes(result: Mapping[str, Any], baseline: Mapping[str, Any] | None, *, limit: int = 6) -> list[str]:
    """What differs from the baseline: tests with another outcome, and errors that grew past the floor."""
    if baseline is None or result.get("combo") == baseline.get("combo"):
        return []
    out: list[str] = []
    mine, theirs = result.get("outcomes") or {}, baseline.get("outcomes") or {}
    for test in sorted(set(mine) | set(theirs)):
        here, there = mine.get(test, "passed"), theirs.get(test, "passed")
        if here.split(":")[0] != there.split(":")[0]:
            out.append(f"`{test.rsplit('::', 1)[-1]}`: {here} (baseline: {there})")
    grown = []
    base_errors = baseline.get("errors") or {}
    for name, error in (result.get("errors") or {}).items():
        dtype = name.split(" | ")[2]
        before = base_errors.get(name)
        if before is None or error <= CHANGE_FLOOR.get(dtype, 0.0):
            continue
        if error > CHANGE_FACTOR * max(before, CHANGE_FLOOR.get(dtype, 0.0) / CHANGE_FACTOR):
            grown.append((error / max(before, 1e-300), name, before, error))
    for _, name, before, error in sorted(grown, reverse=True)[:limit]:
        out.append(f"{name}: error {error:.1e} (baseline {before:.1e})")
    if len(grown) > limit:
        out.append(f"and {len(grown) - limit} more errors grew more than {CHANGE_FACTOR:.0f}x")
    return out


# --------------------------------------------------------------------------------------------------------
# Rendering (also used by parity_tests.report)
# --------------------------------------------------------------------------------------------------------
def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1e}"


def _worst_cell(worst: Mapping[str, Mapping[str, float]], dtype: str) -> str:
    slot = worst.get(dtype) or {}
    return " / ".join(_fmt(slot.get(c)) for c in CATEGORIES)


def _outcome(entry: Mapping[str, Any]) -> str:
    status = str(entry.get("status") or ("passed" if entry.get("passed") else "failed"))
    if status == "not installable":
        return f"not installable: {entry.get('reason', '?')}"
    if status == "error":
        return f"error: {entry.get('reason', '?')}"
    tests = entry.get("tests") or {}
    counts = f"{tests.get('passed', '?')} passed, {tests.get('failed', 0)} failed, {tests.get('skipped', 0)} skipped"
    return f"{status.upper()} ({counts})"


def render(entries: Sequence[Mapping[str, Any]], *, heading: str = "##") -> list[str]:
    """The matrix as Markdown lines: one row per combination, then what changed against the baseline."""
    if not entries:
        return [
            "Not run yet: `python3 noxfile.py -s versions` writes one file per combination into `report/versions/`."
        ]
    baseline = next((e for e in entries if e.get("combo") == BASELINE), None)
    header = ["combination", "Python", "torch", "NumPy", "torchvision", "outcome"]
    header += ["worst float64 fwd / grad / traj", "worst float32 fwd / grad / traj", "time"]
    rows = []
    for e in entries:
        if "unreadable" in e:
            rows.append([cell(str(e["combo"])), cell(f"unreadable: {e['unreadable']}", limit=200), *[""] * 7])
            continue
        worst = e.get("worst") or {}
        seconds = (e.get("timings") or {}).get("total")
        rows.append(
            [
                f"{cell(str(e['combo']))}<br>{cell(str(e.get('role', '')))}",
                *(cell(str(e.get(k) or "-")) for k in ("python", "torch", "numpy", "torchvision")),
                cell(_outcome(e), limit=300),
                _worst_cell(worst, "float64"),
                _worst_cell(worst, "float32"),
                "-" if seconds is None else f"{seconds:.0f} s",
            ]
        )
    lines = table(header, rows)
    lines += ["", f"{heading} Changes against the baseline ({BASELINE})", ""]
    if baseline is None:
        return [*lines, "The baseline did not run, so nothing is compared."]
    lines.append(
        f"A test with another outcome, or a parity error that grew more than {CHANGE_FACTOR:.0f}x and is above "
        f"{CHANGE_FLOOR['float64']:.0e} (float64) or {CHANGE_FLOOR['float32']:.0e} (float32)."
    )
    lines.append("")
    for e in entries:
        if "unreadable" in e or e.get("combo") == BASELINE or e.get("status") in ("not installable", "error"):
            continue
        found = e.get("changes")
        found = changes(e, baseline) if found is None else found
        lines.append(f"- **{e['combo']}**:" + (" none" if not found else ""))
        lines += [f"  - {item}" for item in found]
    return lines


def document(entries: Sequence[Mapping[str, Any]], *, command: str, date: str, machine: str) -> str:
    """``docs/versions.md``: the rendered matrix with when, where and how it was made."""
    downloaded = sum(int(e.get("downloaded_bytes") or 0) for e in entries)
    total = sum(float((e.get("timings") or {}).get("total") or 0.0) for e in entries)
    head = [
        "# The versions matrix",
        "",
        f"Generated by `{command}` on {date}; do not edit by hand. Machine: {machine}.",
        "",
        "Each combination installs the project into its own venv with the pinned torch, NumPy (and torchvision)",
        "and runs the whole test suite, then the parity report's per-case errors (`parity_tests/version_matrix.py`",
        "says how). The worst errors are the largest relative errors over every component and case, per dtype:",
        "forward outputs, gradients, and trajectories (training runs). The tolerance tiers are 1e-12 / 1e-12 /",
        "1e-10 for float64 and 1e-5 / 1e-5 / 1e-4 for float32 (`parity_tests/tolerances.py`).",
        "",
        f"This run: {len(entries)} combinations, {format_size(downloaded)} downloaded, {total / 60:.0f} min in all.",
        "",
    ]
    return "\n".join([*head, *render(entries), ""])


def for_document(entry: Mapping[str, Any], baseline: Mapping[str, Any] | None) -> dict[str, Any]:
    """A result without its per-case errors and full outcome lists, with its changes worked out: what the
    committed ``docs/versions.json`` keeps, enough for :func:`render` to give the same document again."""
    kept = {k: v for k, v in entry.items() if k not in ("errors", "outcomes")}
    if "unreadable" not in entry:
        kept["changes"] = changes(entry, baseline)
    return kept


# --------------------------------------------------------------------------------------------------------
# Running the matrix
# --------------------------------------------------------------------------------------------------------
VERSIONS_INFO = (
    "import importlib, json, platform; out = {'python': platform.python_version()}\n"
    "for name in ('numpy', 'torch', 'torchvision'):\n"
    "    try: out[name] = importlib.import_module(name).__version__\n"
    "    except ImportError: out[name] = None\n"
    "print(json.dumps(out))"
)
# The installed size of a plan is about this many times its download (measured: the torch 2.8 CUDA venv takes
# 6.9 GB for 4.0 GB of wheels, 1.7x); the disk check asks for 2x that plus a margin.
INSTALL_FACTOR = 2.0
DISK_MARGIN = 2 * GB


@dataclass
class Settings:
    repo: Path
    pythons: Mapping[str, Path]  # "3.12" -> interpreter
    requirements: list[str]  # the project's test requirements, without torch and numpy pins
    env: Mapping[str, str]
    cache: Path
    results: Path
    venvs: Path
    refresh: bool = False
    keep_venvs: bool = False
    pytest_args: Sequence[str] = ()
    log: Callable[[str], None] = print


def _pip_env(base: Mapping[str, str]) -> dict[str, str]:
    env = {**os.environ, **base}
    env["PIP_CONSTRAINT"] = os.devnull  # the combination's pins, not the machine's cap
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def resolve(combo: Combo, settings: Settings) -> Plan:
    """The combination's plan: the cached one unless ``refresh``, else pip's resolution for its Python."""
    requirements = [*settings.requirements, *combo.pins()]
    cached = settings.cache / "plans" / f"{combo.id}.json"
    if cached.is_file() and not settings.refresh:
        plan = Plan.from_json(json.loads(cached.read_text(encoding="utf-8")))
        if plan.requirements == requirements:
            return plan
    python = settings.pythons.get(combo.python)
    if python is None:
        raise NotInstallableError(f"no Python {combo.python} interpreter on this machine (pyenv)")
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [str(python), "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
        command += ["--report", str(report), *requirements]
        run = subprocess.run(command, capture_output=True, text=True, env=_pip_env(settings.env), check=False)
        if run.returncode != 0 or not report.is_file():
            raise NotInstallableError(classify_pip_failure(run.stdout + run.stderr, combo.python))
        plan = plan_from_report(combo, requirements, json.loads(report.read_text(encoding="utf-8")))
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(plan.to_json(), indent=1) + "\n", encoding="utf-8")
    return plan


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def install(combo: Combo, plan: Plan, paths: Sequence[Path], settings: Settings) -> Path:
    """A venv with exactly the plan's files and the project (editable); reused when it holds this plan."""
    venv = settings.venvs / combo.id
    stamp = venv / "dlfs-plan.json"
    wanted = json.dumps(sorted(str(p.name) for p in paths))
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted and _venv_python(venv).exists():
        return venv
    need = int(sum(f.size or 0 for f in plan.files) * INSTALL_FACTOR) + DISK_MARGIN
    settings.venvs.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(settings.venvs).free
    if free < need:
        raise NotInstallableError(
            f"not enough disk: the venv needs about {format_size(need)}, {format_size(free)} are free"
        )
    python = settings.pythons[combo.python]
    env = _pip_env(settings.env)
    pip = [str(_venv_python(venv)), "-m", "pip", "install", "--quiet", "--no-index", "--no-deps"]
    try:
        subprocess.run([str(python), "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([*pip, *map(str, paths)], check=True, env=env)
        subprocess.run([*pip, "--no-build-isolation", "-e", str(settings.repo)], check=True, env=env)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(venv, ignore_errors=True)
        raise NotInstallableError(f"the venv could not be made or filled: {exc}") from exc
    stamp.write_text(wanted, encoding="utf-8")
    return venv


def run_combo(combo: Combo, venv: Path, settings: Settings) -> dict[str, Any]:
    """Run the suite and the parity report in ``venv``; the result record (without timings)."""
    python = str(_venv_python(venv))
    single = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env = {**os.environ, **settings.env, **single}  # one BLAS thread per pytest-xdist worker
    if combo.torchvision:
        env["DLFS_REQUIRE_TORCHVISION"] = "1"  # its tests fail, not skip, where torchvision does not import
    info = subprocess.run([python, "-c", VERSIONS_INFO], capture_output=True, text=True, env=env, check=False)
    if info.returncode != 0:
        return {"status": "error", "reason": f"the venv's Python fails to import its packages: {info.stderr[-300:]}"}
    versions = json.loads(info.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        command = [python, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "--benchmark-disable", "-n", "auto"]
        tests = subprocess.run([*command, f"--junitxml={junit}", *settings.pytest_args], cwd=settings.repo, env=env)
        if not junit.is_file():
            return {**versions, "status": "error", "reason": f"pytest exited {tests.returncode} without results"}
        counts, outcomes = junit_outcomes(junit)
        parity = Path(tmp) / "parity"
        report = [python, "-m", "parity_tests.report", "--no-bench", "--no-mutants", "--recipes", "none"]
        report += ["--book", "none", "--out", str(parity), "--versions", str(Path(tmp) / "none")]
        subprocess.run(report, cwd=settings.repo, env=env, capture_output=True, check=False)
        try:
            errors = case_errors(json.loads((parity / "parity.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError):
            errors = {}
    passed = tests.returncode == 0 and counts["failed"] == 0 and counts["errors"] == 0 and counts["total"] > 0
    return {
        **versions,
        "status": "passed" if passed else "failed",
        "tests": counts,
        "outcomes": outcomes,
        "worst": worst_errors(errors),
        "errors": errors,
    }


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=1) + "\n")


def _plan_table(rows: Iterable[tuple[str, str]]) -> str:
    rows = list(rows)
    width = max(len(a) for a, _ in rows)
    return "\n".join(f"  {a.ljust(width)}  {b}" for a, b in rows)


def plan_all(combos: Sequence[Combo], settings: Settings) -> tuple[dict[str, Plan], dict[str, str]]:
    """Each combination's plan with its file sizes, or the reason it cannot be installed."""
    plans: dict[str, Plan] = {}
    failures: dict[str, str] = {}
    settings.log(f"versions: resolving {len(combos)} combinations (pip --dry-run; cached plans are reused)")
    for combo in combos:
        try:
            plans[combo.id] = plan = resolve(combo, settings)
            fill_sizes(plan, settings.cache / "wheels")
        except (NotInstallableError, OSError) as exc:
            failures[combo.id] = str(exc)
    return plans, failures


def announce(
    combos: Sequence[Combo], plans: Mapping[str, Plan], failures: Mapping[str, str], wheelhouse: Path
) -> tuple[str, int]:
    """The plan table (one row per combination: files, size, cached, to download) and the bytes to download in
    all, each file counted once (the combinations of one torch release share their NVIDIA packages)."""
    rows = []
    to_download = 0
    counted: set[str] = set()
    for combo in combos:
        if combo.id in failures:
            rows.append((combo.id, f"not installable: {failures[combo.id]}"))
            continue
        plan = plans[combo.id]
        here, missing = cached_bytes(plan, wheelhouse)
        new = sum(f.size or 0 for f in plan.files if _needs_download(f, wheelhouse) and f.url not in counted)
        counted.update(f.url for f in plan.files)
        to_download += new
        shared = f" ({format_size(missing - new)} of it shared with a row above)" if missing != new else ""
        size = f"{len(plan.files)} files, {format_size(here + missing)}; on this machine {format_size(here)}"
        rows.append((combo.id, f"{size}, to download {format_size(missing)}{shared}"))
    return _plan_table(rows), to_download


def run_one(
    combo: Combo, plan: Plan | None, failure: str | None, settings: Settings, progress: Download
) -> dict[str, Any]:
    """Download, install and run one combination; its result record, written to ``settings.results``."""
    started = time.monotonic()
    timings: dict[str, float] = {}
    record: dict[str, Any] = {"combo": combo.id, "role": combo.role, "python": combo.python}
    record.update(torch=combo.torch, numpy=combo.numpy, torchvision=combo.torchvision)
    before = progress.done
    try:
        if plan is None:
            raise NotInstallableError(failure or "no plan")
        paths = [fetch(f, settings.cache / "wheels", progress) for f in plan.files]
        timings["download"] = time.monotonic() - started
        settings.log(f"versions: {combo.id}: installing {len(paths)} files")
        venv = install(combo, plan, paths, settings)
        timings["install"] = time.monotonic() - started - timings["download"]
        settings.log(f"versions: {combo.id}: running the suite and the parity report")
        record.update(run_combo(combo, venv, settings))
        timings["tests"] = time.monotonic() - started - timings["download"] - timings["install"]
        if plan.is_cuda_build() and not settings.keep_venvs:
            shutil.rmtree(venv, ignore_errors=True)
    except NotInstallableError as exc:
        record.update(status="not installable", reason=str(exc))
    timings["total"] = time.monotonic() - started
    record.update(timings=timings, downloaded_bytes=progress.done - before, date=time.strftime("%Y-%m-%d %H:%M:%S"))
    _write_json(settings.results / f"{combo.id}.json", record)
    settings.log(f"versions: {combo.id}: {_outcome(record)} in {timings['total']:.0f} s")
    return record


def run_matrix(
    combos: Sequence[Combo], settings: Settings, *, dry_run: bool = False, download_only: bool = False
) -> list[dict[str, Any]]:
    """Plan, size, download and run ``combos``; returns the result records (also written to ``results``)."""
    wheelhouse = settings.cache / "wheels"
    plans, failures = plan_all(combos, settings)
    table, to_download = announce(combos, plans, failures, wheelhouse)
    settings.log("versions: the plan\n" + table)
    settings.log(f"versions: {format_size(to_download)} to download in all, into {wheelhouse}")
    if dry_run:
        return []
    progress = Download(to_download)
    if not download_only:
        return [run_one(c, plans.get(c.id), failures.get(c.id), settings, progress) for c in combos]
    for plan in plans.values():
        try:
            for f in plan.files:
                fetch(f, wheelhouse, progress)
        except NotInstallableError as exc:
            settings.log(f"versions: {plan.combo}: {exc}")
    settings.log(f"versions: downloaded {format_size(progress.done)} in {time.monotonic() - progress.started:.0f} s")
    return []


def select(patterns: Sequence[str]) -> list[Combo]:
    """The combinations whose id matches one of ``patterns`` (shell globs); all of them for none."""
    if not patterns:
        return list(COMBOS)
    chosen = [c for c in COMBOS if any(fnmatch.fnmatch(c.id, p) for p in patterns)]
    if not chosen:
        known = ", ".join(c.id for c in COMBOS)
        raise ValueError(f"--only {' '.join(patterns)} matches no combination; the combinations are: {known}")
    return chosen


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="noxfile.py -s versions --", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", default=[], metavar="GLOB", help="combination ids to run (globs)")
    parser.add_argument("--list", action="store_true", help="list the combinations and stop")
    parser.add_argument("--dry-run", action="store_true", help="plan and say the download size, then stop")
    parser.add_argument("--download-only", action="store_true", help="download what the plan needs, then stop")
    parser.add_argument("--refresh", action="store_true", help="resolve again instead of reusing cached plans")
    parser.add_argument("--keep-venvs", action="store_true", help="keep the CUDA builds' venvs (several GB each)")
    parser.add_argument("--doc", type=Path, help="also write the committed document there (docs/versions.md)")
    parser.add_argument("pytest_args", nargs="*", help="after '--': passed to pytest")
    return parser.parse_args(argv)


def default_cache() -> Path:
    if value := os.environ.get("DLFS_WHEELHOUSE"):
        return Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dlfs-parity"


def main(
    argv: Sequence[str],
    *,
    repo: Path,
    pythons: Mapping[str, Path],
    requirements: list[str],
    env: Mapping[str, str],
    machine: str,
    log: Callable[[str], None] = print,
) -> int:
    """The ``versions`` session: 0 when every combination that installed passed, 1 otherwise, 2 for bad
    arguments (an ``--only`` that matches nothing)."""
    args = parse_args(argv)
    try:
        combos = select(args.only)
    except ValueError as exc:
        log(f"versions: {exc}")
        return 2
    if args.list:
        log("\n".join(f"{c.id}: {c.role}" for c in combos))
        return 0
    settings = Settings(
        repo=repo,
        pythons=pythons,
        requirements=requirements,
        env=env,
        cache=default_cache(),
        results=repo / "report" / "versions",
        venvs=repo / ".nox" / "versions",
        refresh=args.refresh,
        keep_venvs=args.keep_venvs,
        pytest_args=args.pytest_args,
        log=log,
    )
    results = run_matrix(combos, settings, dry_run=args.dry_run, download_only=args.download_only)
    if args.doc is not None and results:
        write_document(repo / args.doc, results, _load_all(settings.results), argv=argv, machine=machine)
        log(f"versions: wrote {args.doc} and {args.doc.with_suffix('.json')}")
    return 0 if all(r.get("status") in ("passed", "not installable") for r in results) else 1


def write_document(
    path: Path,
    results: Sequence[Mapping[str, Any]],
    everything: Sequence[Mapping[str, Any]],
    *,
    argv: Sequence[str],
    machine: str,
) -> None:
    """Write ``path`` (Markdown) and the same name with ``.json``: the results of this run, each with its
    changes against the baseline (from this run, or else the baseline's last result in ``everything``)."""
    baseline = next((r for r in [*results, *everything] if r.get("combo") == BASELINE), None)
    data = {
        "command": " ".join(["python3 noxfile.py -s versions --", *argv]),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine,
        "combos": [for_document(r, baseline) for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_json(path.with_suffix(".json"), data)
    write_atomic(path, document_from_json(data))


def document_from_json(data: Mapping[str, Any]) -> str:
    """The Markdown of ``docs/versions.md`` from its ``.json`` (a test checks the two are in step)."""
    return document(data["combos"], command=data["command"], date=data["date"], machine=data["machine"])


def _load_all(folder: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return out
