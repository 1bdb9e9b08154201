"""Task runner for dlfs-parity: tests, lint, the NumPy-only matrix, version matrix, report, benchmarks.

Run it with nox (``nox -s tests``) or, on a machine without nox, as a plain script::

    python3 noxfile.py -l            # list sessions
    python3 noxfile.py -s tests      # the whole test suite (NumPy + PyTorch), Python 3.11
    python3 noxfile.py -s report     # parity report and paired benchmarks into report/
    python3 noxfile.py -s book       # the book's own notebooks run on this project (DLFS_BOOK)

When ``import nox`` fails (or finds a nox older than ``NOX_MIN``), the script creates ``.venv-nox`` in the
repository, pip-installs nox there and re-executes itself with that interpreter and the same arguments.

Interpreters: sessions ask for Python 3.10 to 3.13. Before nox looks for them, this file puts the newest
pyenv build of each version (``$PYENV_ROOT``, ``pyenv root`` or ``~/.pyenv``, then ``versions/X.Y.N/bin``)
at the front of PATH, so nothing has to be activated by hand; pyenv shims alone are not enough, since a
shim for a version that is not selected exits with an error. A version that still cannot be found is an
error, never a skip (``error_on_missing_interpreters``), and nox is told never to download one.

Every pip install passes ``-c constraints.txt``: it pins torch to the local CPU build (2.13.0, Python 3.11
only); an unpinned torch would pull gigabytes of CUDA wheels.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent
CONSTRAINTS = "constraints.txt"
NOX_MIN = "2025.10.14"  # first release with ``nox.options.download_python``
BOOTSTRAP_VENV = REPO / ".venv-nox"
_BOOTSTRAP_GUARD = "DLFS_NOX_BOOTSTRAPPED"

MAIN_PYTHON = "3.11"  # the only Python with a local torch 2.13.0 CPU wheel
SCRATCH_PYTHONS = ["3.10", "3.12", "3.13"]  # NumPy-only, torch must be absent
ALL_PYTHONS = [MAIN_PYTHON, *SCRATCH_PYTHONS]
NUMPY_VERSIONS = ["1.26.4", "2.0.2", "latest"]
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# --------------------------------------------------------------------------------------------------------
# Bootstrap: make ``python3 noxfile.py ...`` work on a machine without nox.
# --------------------------------------------------------------------------------------------------------
def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def _nox_usable() -> bool:
    """True when nox imports and is at least ``NOX_MIN``."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        import nox  # noqa: F401
    except ImportError:
        return False
    try:
        return _version_tuple(version("nox")) >= _version_tuple(NOX_MIN)
    except PackageNotFoundError:  # importable but without metadata: trust it
        return True


def _venv_python(venv: Path) -> Path:
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def _bootstrap() -> None:
    """Install nox into ``.venv-nox`` and re-execute this file there; returns only inside that venv."""
    venv_python = _venv_python(BOOTSTRAP_VENV)
    inside = Path(sys.prefix).resolve() == BOOTSTRAP_VENV.resolve()
    if inside:
        # Re-executed (or run directly) with the bootstrap interpreter: install nox into it.
        print(f"noxfile: installing nox>={NOX_MIN} into {BOOTSTRAP_VENV.name}", file=sys.stderr, flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q", f"nox>={NOX_MIN}"],
            check=True,
        )
        return
    if os.environ.get(_BOOTSTRAP_GUARD):
        raise SystemExit(f"noxfile: re-executed with {sys.executable}, but it is not {BOOTSTRAP_VENV}")
    if not venv_python.exists():  # absent, or its base interpreter is gone (dangling link)
        print(f"noxfile: nox not found; creating {BOOTSTRAP_VENV}", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(BOOTSTRAP_VENV)], check=True)
    os.environ[_BOOTSTRAP_GUARD] = "1"
    os.execv(venv_python, [str(venv_python), str(Path(__file__).resolve()), *sys.argv[1:]])


if __name__ == "__main__" and not _nox_usable():
    _bootstrap()
    if not _nox_usable():
        raise SystemExit(f"noxfile: nox>={NOX_MIN} is still not importable from {sys.executable}")

import nox  # noqa: E402


# --------------------------------------------------------------------------------------------------------
# Interpreter discovery (pyenv) and the environment every session gets.
# --------------------------------------------------------------------------------------------------------
def _pyenv_roots() -> Iterator[Path]:
    if root := os.environ.get("PYENV_ROOT"):
        yield Path(root)
    if pyenv := shutil.which("pyenv"):
        try:
            out = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=30, check=True)
            yield Path(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    yield Path.home() / ".pyenv"


def find_pyenv_bins(versions: Sequence[str]) -> dict[str, Path]:
    """Map each ``X.Y`` in *versions* to the ``bin`` folder of its newest pyenv build ``X.Y.N``.

    Only final releases count (``3.13.0``, not ``3.13.0t`` or ``3.13-dev``); a version that no pyenv root
    has is left out.
    """
    found: dict[str, Path] = {}
    seen: set[Path] = set()
    for root in _pyenv_roots():
        versions_dir = root / "versions"
        if root in seen or not versions_dir.is_dir():
            continue
        seen.add(root)
        for xy in versions:
            if xy in found:
                continue
            pattern = re.compile(rf"^{re.escape(xy)}\.(\d+)$")
            builds = sorted(
                (int(match.group(1)), entry)
                for entry in versions_dir.iterdir()
                if (match := pattern.match(entry.name)) and os.access(entry / "bin" / f"python{xy}", os.X_OK)
            )
            if builds:
                found[xy] = builds[-1][1] / "bin"
    return found


def _put_pythons_on_path(versions: Sequence[str]) -> None:
    """Prepend the pyenv ``bin`` folders, the running version first (so ``python3`` keeps it)."""
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    ordered = sorted(versions, key=lambda xy: xy != current)
    path = [entry for entry in os.environ.get("PATH", "").split(os.pathsep) if entry]
    bins = find_pyenv_bins(ordered)
    new = [str(bins[xy]) for xy in ordered if xy in bins and str(bins[xy]) not in path]
    os.environ["PATH"] = os.pathsep.join([*new, *path])


def datasets_dir() -> str | None:
    """``DLFS_DATASETS`` if set, else ``<repo>/../shared/datasets`` when that folder exists."""
    if value := os.environ.get("DLFS_DATASETS"):
        return value
    default = REPO.parent / "shared" / "datasets"
    return str(default.resolve()) if default.is_dir() else None


def session_env(*, single_thread: bool = False) -> dict[str, str]:
    env: dict[str, str] = {}
    if data := datasets_dir():
        env["DLFS_DATASETS"] = data
    if single_thread:
        env.update(SINGLE_THREAD)
    return env


_put_pythons_on_path(ALL_PYTHONS)

nox.needs_version = ">=2025.10.14"  # ">=" + NOX_MIN, as a literal: nox reads it from the AST
nox.options.sessions = ["tests", "lint"]
nox.options.error_on_missing_interpreters = True  # a missing Python fails; it is never skipped
nox.options.download_python = "never"  # only the interpreters on this machine
nox.options.reuse_venv = "yes"  # reuse existing session venvs; `--reuse-venv=never` rebuilds them


# --------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------
def install(session: nox.Session, *args: str) -> None:
    """``pip install -c constraints.txt ARGS``: the only way this file installs anything."""
    session.install("-c", CONSTRAINTS, *args)


def extra_requirements(extra: str, *, without: Sequence[str] = ()) -> list[str]:
    """The requirements of a pyproject extra, less the project's own extras and the names in *without*."""
    project = nox.project.load_toml(REPO / "pyproject.toml")["project"]
    name = project["name"]
    skip = {name, *without}
    return [
        req
        for req in project["optional-dependencies"][extra]
        if re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0] not in skip
    ]


def show_versions(session: nox.Session, *modules: str) -> None:
    """Print the Python version and ``__version__`` of each module (failing if one does not import)."""
    code = (
        "import importlib, platform; print('python', platform.python_version()); "
        f"[print(m, importlib.import_module(m).__version__) for m in {list(modules)!r}]"
    )
    session.run("python", "-c", code)


ASSERT_NO_TORCH = (
    "import importlib.util, sys; found = importlib.util.find_spec('torch') is not None; "
    "print('torch:', 'INSTALLED (not allowed here)' if found else 'absent, as required'); sys.exit(found)"
)


# --------------------------------------------------------------------------------------------------------
# Sessions
# --------------------------------------------------------------------------------------------------------
@nox.session(python=MAIN_PYTHON)
def tests(session: nox.Session) -> None:
    """The whole suite (tests: scratch/ and parity/) with torch, benchmarks disabled."""
    install(session, "-e", ".[tests]")
    show_versions(session, "numpy", "torch")
    session.run("pytest", "--benchmark-disable", *session.posargs, env=session_env())


@nox.session(python=SCRATCH_PYTHONS)
def scratch(session: nox.Session) -> None:
    """The NumPy-only tests on other Pythons, proving the scratch library needs no torch."""
    install(session, "-e", ".[data]", *extra_requirements("tests", without=["torch"]))
    session.run("python", "-c", ASSERT_NO_TORCH)
    show_versions(session, "numpy")
    session.run(
        "pytest",
        "tests/scratch",
        "-p",
        "no:cacheprovider",
        "--benchmark-disable",
        *session.posargs,
        env=session_env(),
    )


VERSIONS_RESULTS = REPO / "report" / "versions"  # read by parity_tests.report (report/ is git-ignored)
VERSIONS_INFO = (
    "import json, platform, numpy, torch; "
    "print(json.dumps({'python': platform.python_version(), 'numpy': numpy.__version__, "
    "'torch': torch.__version__}))"
)


def junit_summary(path: Path) -> tuple[dict[str, int], list[str]]:
    """Test counts (passed, failed, errors, skipped, total) and failed test ids from a pytest JUnit XML file."""
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total, failed, errors, skipped = (
        sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")
    )
    ids = [
        f"{case.get('classname', '')}::{case.get('name', '')}"
        for case in root.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    ]
    counts = {"passed": total - failed - errors - skipped, "failed": failed, "errors": errors, "skipped": skipped}
    return {**counts, "total": total}, ids


def worst_float64(parity_json: Path) -> dict[str, float] | None:
    """The worst float64 forward/gradient/trajectory error over every case of a parity report's JSON."""
    import json

    try:
        components = json.loads(parity_json.read_text(encoding="utf-8"))["components"]
    except (OSError, ValueError, KeyError):
        return None
    worst: dict[str, float] = {}
    prefixes = {"forward": None, "gradient": ("grad:",), "trajectory": ("traj:", "epoch:")}
    for component in components:
        for case in component["cases"]:
            if case["dtype"] != "float64":
                continue
            for key, error in case["errors"].items():
                category = next((c for c, p in prefixes.items() if p and key.startswith(p)), "forward")
                if error == error:  # not NaN
                    worst[category] = max(worst.get(category, 0.0), float(error))
    return worst


def _write_json(path: Path, data: object) -> None:
    """Write JSON to a temporary name, then rename: a reader never sees half a file."""
    import json
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@nox.session(python=MAIN_PYTHON)
@nox.parametrize("numpy", [nox.param(v, id=f"numpy-{v}") for v in NUMPY_VERSIONS])
def versions(session: nox.Session, numpy: str) -> None:
    """The whole suite against the oldest supported, the 2.0 and the newest NumPy.

    Each combination's result (versions, pass/fail, test counts, failed tests, worst float64 parity errors)
    goes to ``report/versions/numpy-<version>.json``, which the report's "Versions" section renders.
    """
    import json
    import time

    pin = ["--upgrade", "numpy"] if numpy == "latest" else [f"numpy=={numpy}"]
    install(session, "-e", ".[tests]", *pin)
    show_versions(session, "numpy", "torch")
    info = session.run("python", "-c", VERSIONS_INFO, silent=True)
    if not isinstance(info, str):  # ``--install-only``: nox runs no commands, so there is nothing to record
        return
    tmp = Path(session.create_tmp())
    junit = tmp / "junit.xml"
    junit.unlink(missing_ok=True)
    crashed = ""
    try:
        session.run(
            "pytest",
            "tests",
            "--benchmark-disable",
            "-q",
            f"--junitxml={junit}",
            *session.posargs,
            env=session_env(),
            success_codes=[0, 1],  # test failures are recorded below, then fail the session
        )
    except nox.command.CommandFailed as exc:
        crashed = f"pytest did not finish its run: {exc}"
    parity = tmp / "parity"
    shutil.rmtree(parity, ignore_errors=True)  # never read an earlier run's errors
    try:
        session.run(
            "python",
            "-m",
            "parity_tests.report",
            "--no-bench",
            "--no-mutants",
            "--recipes",
            "none",  # only the components' errors are read here; the recipes and the book have their sessions
            "--book",
            "none",
            "--out",
            str(parity),
            "--versions",
            str(tmp / "no-versions"),
            env=session_env(single_thread=True),
            success_codes=[0, 1],  # a parity failure is the tests' to report; here only the errors are wanted
            silent=True,
        )
    except nox.command.CommandFailed:  # no errors to record; the tests above say what broke
        session.warn("the parity report run for the worst float64 errors failed")
    tests, failed = junit_summary(junit) if junit.is_file() else ({}, [])
    passed = not crashed and tests.get("total", 0) > 0 and tests["failed"] == 0 and tests["errors"] == 0
    result = {
        "combo": f"numpy-{numpy}",
        **json.loads(info.strip().splitlines()[-1]),
        "passed": passed,
        "tests": tests,
        "failed_tests": failed,
        "worst_float64": worst_float64(parity / "parity.json"),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        **({"error": crashed} if crashed else {}),
    }
    _write_json(VERSIONS_RESULTS / f"numpy-{numpy}.json", result)
    session.log(f"result written to {VERSIONS_RESULTS / f'numpy-{numpy}.json'}")
    if not passed:
        session.error(crashed or f"tests failed with numpy {result.get('numpy')}: {failed or 'no tests ran'}")


@nox.session(python=MAIN_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check and mypy (configured in pyproject.toml), and the guide's drift check."""
    install(session, "-e", ".[dev]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", *session.posargs)
    session.run("python", "-m", "parity_tests.guide", "--check")


@nox.session(python=MAIN_PYTHON)
def report(session: nox.Session) -> None:
    """Every component's parity check and the paired benchmarks, written to report/ (one thread): parity.md,
    parity.json, speed and loss-curve PNGs, the version matrix from report/versions/ (the versions session), and
    the quick book reproduction table in report/reproduction-quick/ with a loss plot per recipe (``-- --recipes none``
    leaves it out, ``-- --recipes full`` runs the book's configurations)."""
    install(session, "-e", ".[tests,plots]")
    session.run(
        "python",
        "-m",
        "parity_tests.report",
        "--out",
        "report",
        *session.posargs,
        env=session_env(single_thread=True),
    )


@nox.session(python=MAIN_PYTHON)
def bench(session: nox.Session) -> None:
    """The paired NumPy / PyTorch benchmarks with pytest-benchmark (one thread)."""
    install(session, "-e", ".[tests]")
    session.run(
        "pytest",
        "tests",
        "--benchmark-only",
        "--benchmark-group-by=group",
        "--benchmark-columns=min,median,mean,stddev,rounds",
        *session.posargs,
        env=session_env(single_thread=True),
    )


@nox.session(python=MAIN_PYTHON)
def book(session: nox.Session) -> None:
    """The book's own notebooks run on this project, cell by cell, against their saved outputs.

    Reads the book's repository from ``DLFS_BOOK`` (default ``../shared/book``) and writes ``report/book/book.md``
    and ``.json``. Without arguments every notebook runs at the book's full configuration beside the book's own
    code (about an hour of CPU; progress is printed per cell); ``-- --quick`` runs the short configurations
    (CI), ``-- ch4`` one notebook, ``-- --doc docs/book-reproduction.md`` also writes the committed document,
    ``-- cells ch4`` lists a notebook's cells and their manifest rules. Runs go one per CPU (``--jobs``)."""
    install(session, "-e", ".[torch,data,plots]")  # chapter 7 is torch; the book's lincoln needs scipy (data)
    args = list(session.posargs)
    if args[:1] != ["cells"] and not any(a == "--jobs" or a.startswith("--jobs=") for a in args):
        args += ["--jobs", str(os.cpu_count() or 1)]
    # one thread per run: the notebooks' small matrices are many times slower with BLAS threads fighting
    session.run("python", "-m", "parity_tests.book", *args, env=session_env(single_thread=True))


@nox.session(python=MAIN_PYTHON)
def recipes(session: nox.Session) -> None:
    """The book's training recipes: ``python3 noxfile.py -s recipes -- ARGS`` (default ``--help``)."""
    install(session, "-e", ".[tests,plots]")
    session.run("python", "-m", "parity_tests.recipes", *(session.posargs or ["--help"]), env=session_env())


if __name__ == "__main__":
    os.chdir(REPO)  # nox looks for ./noxfile.py
    nox.main()
