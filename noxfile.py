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
from typing import Any

REPO = Path(__file__).resolve().parent
CONSTRAINTS = "constraints.txt"
NOX_MIN = "2025.10.14"  # first release with ``nox.options.download_python``
BOOTSTRAP_VENV = REPO / ".venv-nox"
_BOOTSTRAP_GUARD = "DLFS_NOX_BOOTSTRAPPED"

MAIN_PYTHON = "3.11"  # the only Python with a local torch 2.13.0 CPU wheel
SCRATCH_PYTHONS = ["3.10", "3.12", "3.13"]  # NumPy-only, torch must be absent
ALL_PYTHONS = [MAIN_PYTHON, *SCRATCH_PYTHONS]
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
    """The whole suite (tests: scratch/ and parity/) with torch, benchmarks disabled, one pytest worker per CPU
    (pytest-xdist; ``-- -n 0`` runs it in one process), each at one BLAS thread."""
    install(session, "-e", ".[tests]")
    show_versions(session, "numpy", "torch")
    # one BLAS/OpenMP thread per worker: two workers with two threads each on two cores ran 1.8x slower
    session.run("pytest", "--benchmark-disable", "-n", "auto", *session.posargs, env=session_env(single_thread=True))


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
        "-n",
        "auto",
        *session.posargs,
        env=session_env(single_thread=True),
    )


def _version_matrix() -> Any:
    """``parity_tests.version_matrix`` from the working tree: it and the modules it imports need only the
    standard library (this process has neither NumPy nor the project installed), and importing ``parity_tests``
    imports nothing else."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import parity_tests.version_matrix as matrix

    return matrix


def matrix_requirements() -> list[str]:
    """What every versions combination installs besides its pins: the project's dependencies, its torch, data
    and tests extras (the torch floor stays, so a pin below it is a conflict) and its build requirements."""
    data = nox.project.load_toml(REPO / "pyproject.toml")
    project = data["project"]
    extras = project["optional-dependencies"]
    requirements = [*project["dependencies"], *extras["torch"], *extras["data"]]
    requirements += [r for r in extra_requirements("tests") if not r.startswith(project["name"])]
    return [*requirements, *data["build-system"]["requires"]]


def machine_summary() -> str:
    """``Linux x86_64, Intel(R) Xeon(R) ..., 2 cores``: where a matrix ran."""
    import platform

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = " ".join(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    parts = [f"{platform.system()} {platform.machine()}", model, f"{os.cpu_count() or '?'} cores"]
    return ", ".join(p for p in parts if p)


@nox.session(python=False)
def versions(session: nox.Session) -> None:
    """The whole suite across torch releases (the oldest pyproject.toml admits, a middle one, the pinned 2.13
    CPU build, 2.14 with torchvision, the newest), NumPy releases and Pythons 3.11 to 3.13.

    ``-- --list`` names the combinations, ``-- --dry-run`` says what would be downloaded, ``-- --only GLOB``
    picks some, ``-- --doc docs/versions.md`` writes the committed document, ``-- --refresh`` resolves again,
    ``-- --keep-venvs`` keeps the CUDA builds' venvs; everything after a second ``--`` goes to pytest.
    The CUDA builds download several GB each (cached in ``~/.cache/dlfs-parity``); parity_tests/version_matrix.py
    says how a combination runs. Results: ``report/versions/<combination>.json``, rendered by the report.
    """
    matrix = _version_matrix()
    bins = find_pyenv_bins(ALL_PYTHONS)
    pythons = {xy: bins[xy] / f"python{xy}" for xy in bins}
    for xy in ALL_PYTHONS:
        if xy not in pythons and (found := shutil.which(f"python{xy}")):
            pythons[xy] = Path(found)
    code = matrix.main(
        session.posargs,
        repo=REPO,
        pythons=pythons,
        requirements=matrix_requirements(),
        env=session_env(),
        machine=machine_summary(),
        log=session.log,
    )
    if code == 2:
        session.error("bad arguments (see above)")
    if code:
        session.error("a combination that installed failed its tests (report/versions/ says which)")


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
