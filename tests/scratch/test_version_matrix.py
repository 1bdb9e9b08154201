"""The versions matrix (parity_tests.version_matrix): combinations, plans, downloads against a local server,
failure reasons, results and their rendering. Standard library only, like the module."""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from parity_tests import version_matrix as vm

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------------------------
# The combinations
# ---------------------------------------------------------------------------------------------------------
def test_the_matrix_covers_what_the_issue_asks() -> None:
    ids = [c.id for c in vm.COMBOS]
    assert len(ids) == len(set(ids))
    assert vm.BASELINE in ids
    releases = {c.torch.split("+")[0] for c in vm.COMBOS}
    assert len(releases) >= 3
    assert {c.python for c in vm.COMBOS if c.torch == vm.NEWEST_TORCH} >= {"3.11", "3.12", "3.13"}
    assert any(c.torchvision for c in vm.COMBOS)
    assert sum(1 for c in vm.COMBOS if c.torch == vm.PINNED_TORCH) >= 2  # the numpy axis on the pinned build
    newest = max(releases, key=lambda v: tuple(int(p) for p in v.split(".")))
    assert newest == vm.NEWEST_TORCH


def test_the_oldest_combination_is_the_floor_pyproject_claims() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (floor,) = re.findall(r'"torch>=([\d.]+)"', text)
    assert vm.OLDEST_TORCH.startswith(floor + "."), f"pyproject says torch>={floor}, the matrix tests {vm.OLDEST_TORCH}"
    oldest = min((c for c in vm.COMBOS), key=lambda c: tuple(int(p) for p in c.torch.split("+")[0].split(".")))
    assert oldest.torch == vm.OLDEST_TORCH
    (numpy_floor,) = re.findall(r'"numpy>=([\d.]+)"', text)
    assert any(c.numpy.startswith(numpy_floor + ".") for c in vm.COMBOS)


def test_the_pinned_combinations_use_the_build_constraints_txt_pins() -> None:
    pins = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    assert f"torch=={vm.PINNED_TORCH.split('+')[0]}" in pins
    assert vm.PINNED_TORCH.endswith("+cpu")


def test_ci_runs_exactly_one_combination_that_exists() -> None:
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    (pattern,) = re.findall(r"-s versions -- --only (\S+)", text)
    chosen = vm.select([pattern.strip("'\"")])
    assert [c.id for c in chosen] == [c.id for c in vm.COMBOS if c.role.endswith("(CI)")]
    assert len(chosen) == 1
    assert chosen[0].torch == vm.PINNED_TORCH  # nothing to download in CI


def test_select_takes_globs_and_names_the_choices_when_none_match() -> None:
    assert [c.python for c in vm.select(["py3.1[23]-*"])] == ["3.12", "3.13"]
    assert vm.select([]) == list(vm.COMBOS)
    with pytest.raises(ValueError, match=r"--only torch9 matches no combination; the combinations are: py3.11-"):
        vm.select(["torch9"])


def test_combination_ids_and_pins() -> None:
    combo = vm.Combo("3.12", "2.14.1", "latest", "role", "0.29.1")
    assert combo.id == "py3.12-torch2.14.1-torchvision0.29.1-numpylatest"
    assert combo.pins() == ["torch==2.14.1", "numpy", "torchvision==0.29.1"]
    assert vm.Combo("3.11", "2.2.2", "1.26.4", "r").pins() == ["torch==2.2.2", "numpy==1.26.4"]


# ---------------------------------------------------------------------------------------------------------
# Plans from pip's report, and why pip failed
# ---------------------------------------------------------------------------------------------------------
def _pip_report(local: Path) -> dict[str, Any]:
    return {
        "version": "1",
        "install": [
            {
                "metadata": {"name": "dlfs-parity", "version": "0.1.0"},
                "download_info": {"url": "file:///work/main", "dir_info": {"editable": True}},
            },
            {
                "metadata": {"name": "torch", "version": "2.8.0"},
                "download_info": {
                    "url": "https://files.example/packages/torch-2.8.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                    "archive_info": {"hashes": {"sha256": "ab" * 32}},
                },
            },
            {
                "metadata": {"name": "Jinja2", "version": "3.1.6"},
                "download_info": {"url": f"{local.as_uri()}#sha256={'cd' * 32}", "archive_info": {}},
            },
        ],
    }


def test_a_plan_keeps_the_files_and_leaves_the_project_out(tmp_path: Path) -> None:
    local = tmp_path / "jinja2-3.1.6-py3-none-any.whl"
    combo = vm.Combo("3.11", "2.8.0", "latest", "r")
    plan = vm.plan_from_report(combo, ["numpy>=1.26", *combo.pins()], _pip_report(local))
    assert [f.name for f in plan.files] == ["torch", "Jinja2"]
    assert plan.versions == {"torch": "2.8.0", "jinja2": "3.1.6"}
    torch_file, jinja = plan.files
    assert torch_file.filename == "torch-2.8.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert torch_file.sha256 == "ab" * 32
    assert torch_file.local_path is None
    assert jinja.local_path == local
    assert jinja.sha256 == "cd" * 32  # from the URL's fragment
    assert not plan.is_cuda_build()
    assert vm.Plan.from_json(json.loads(json.dumps(plan.to_json()))) == plan
    with pytest.raises(ValueError, match=r"expected pip's installation report with an 'install' list, received"):
        vm.plan_from_report(combo, [], {"version": "1"})


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        (
            "WARNING: Retrying ... NewConnectionError('Failed to establish a new connection')\n"
            "ERROR: No matching distribution found for torch==2.15.0",
            "the registry could not be reached (no network?) and no plan is cached",
        ),
        (
            "ERROR: Could not find a version that satisfies the requirement torch==2.2.2 (from versions: 2.6.0)\n"
            "ERROR: No matching distribution found for torch==2.2.2",
            "no distribution of torch==2.2.2 for Python 3.13 on this platform",
        ),
        (
            "ERROR: Cannot install numpy==2.0.2 and torch==2.2.2 because these package versions have conflicting "
            "dependencies.\n\nThe conflict is caused by:\n    The user requested numpy==2.0.2\n    torch 2.2.2 "
            "depends on numpy<2\n\nTo fix this you could try to:\nERROR: ResolutionImpossible: see the docs",
            "pip found the requirements in conflict: The user requested numpy==2.0.2 torch 2.2.2 depends on numpy<2",
        ),
        ("Traceback ...\nERROR: something else went wrong\n", "ERROR: something else went wrong"),
        ("", "pip failed without a message"),
    ],
    ids=["network", "no-wheel", "conflict", "other", "silent"],
)
def test_pip_failures_become_one_line_reasons(output: str, reason: str) -> None:
    assert vm.classify_pip_failure(output, "3.13") == reason


def test_a_python_that_cannot_resolve_is_not_installable(tmp_path: Path) -> None:
    """``resolve`` runs the combination's interpreter; one whose pip finds no wheel gives the reason."""
    fake = tmp_path / "python3.13"
    fake.write_text(
        "#!/bin/sh\necho 'ERROR: No matching distribution found for torch==2.2.2' >&2\nexit 1\n", encoding="utf-8"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    settings = _settings(tmp_path, pythons={"3.13": fake})
    combo = vm.Combo("3.13", "2.2.2", "latest", "r")
    with pytest.raises(vm.NotInstallableError, match=r"no distribution of torch==2.2.2 for Python 3.13"):
        vm.resolve(combo, settings)
    with pytest.raises(vm.NotInstallableError, match=r"no Python 3.12 interpreter on this machine"):
        vm.resolve(vm.Combo("3.12", "2.2.2", "latest", "r"), settings)


def test_a_cached_plan_is_reused_while_the_requirements_are_the_same(tmp_path: Path) -> None:
    settings = _settings(tmp_path, pythons={})  # no interpreter: only the cache can answer
    combo = vm.Combo("3.11", "2.8.0", "latest", "r")
    plan = vm.plan_from_report(combo, [*settings.requirements, *combo.pins()], _pip_report(tmp_path / "x.whl"))
    (settings.cache / "plans").mkdir(parents=True)
    (settings.cache / "plans" / f"{combo.id}.json").write_text(json.dumps(plan.to_json()))
    assert vm.resolve(combo, settings) == plan
    settings.requirements = ["numpy>=2"]  # the project's requirements changed: resolve again
    with pytest.raises(vm.NotInstallableError, match=r"no Python 3\.11 interpreter"):
        vm.resolve(combo, settings)


def _settings(tmp_path: Path, *, pythons: dict[str, Path]) -> vm.Settings:
    return vm.Settings(
        repo=tmp_path / "repo",
        pythons=pythons,
        requirements=["numpy>=1.26"],
        env={},
        cache=tmp_path / "cache",
        results=tmp_path / "results",
        venvs=tmp_path / "venvs",
        log=lambda message: None,
    )


# ---------------------------------------------------------------------------------------------------------
# Downloads against a local server
# ---------------------------------------------------------------------------------------------------------
class _Server:
    def __init__(self, root: Path) -> None:
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(root), **kwargs)

            def send_head(self) -> Any:
                server.requests.append((self.command, self.path))
                return super().send_head()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[_Server, Path]]:
    root = tmp_path / "served"
    root.mkdir()
    srv = _Server(root)
    yield srv, root
    srv.close()


def _served(root: Path, url: str, name: str, payload: bytes, *, sha: str | None = None) -> vm.PlannedFile:
    (root / name).write_bytes(payload)
    return vm.PlannedFile("pkg", "1.0", f"{url}/{name}", sha or hashlib.sha256(payload).hexdigest())


def test_fetch_downloads_checks_the_hash_and_reuses_the_cache(server: tuple[_Server, Path], tmp_path: Path) -> None:
    srv, root = server
    payload = bytes(range(256)) * 9000  # 2.3 MB: more than one chunk
    wanted = _served(root, srv.url, "pkg-1.0-py3-none-any.whl", payload)
    assert vm.remote_size(wanted.url) == len(payload)
    wheelhouse = tmp_path / "wheels"
    lines: list[str] = []

    class Sink:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

    progress = vm.Download(total=len(payload), stream=Sink(), interval=0.0)  # type: ignore[arg-type]
    path = vm.fetch(wanted, wheelhouse, progress)
    assert path == wheelhouse / wanted.filename
    assert path.read_bytes() == payload
    assert progress.done == len(payload)
    assert lines
    assert re.match(r"  downloaded \d+ MB of 2 MB \(\d+%\), [\d.]+ MB/s, .*: pkg-1.0-py3-none-any.whl", lines[0])
    assert "(100%)" in lines[-1]
    gets = [r for r in srv.requests if r[0] == "GET"]
    assert vm.fetch(wanted, wheelhouse, progress) == path  # cached: no second request
    assert [r for r in srv.requests if r[0] == "GET"] == gets
    assert list(wheelhouse.iterdir()) == [path]  # no partial file left behind


def test_a_wrong_hash_or_a_missing_file_is_not_installable_and_leaves_nothing(
    server: tuple[_Server, Path], tmp_path: Path
) -> None:
    srv, root = server
    wheelhouse = tmp_path / "wheels"
    bad = _served(root, srv.url, "bad-1.0-py3-none-any.whl", b"tampered", sha="00" * 32)
    with pytest.raises(vm.NotInstallableError, match=r"bad-1.0-py3-none-any.whl: expected sha256 0000.*received"):
        vm.fetch(bad, wheelhouse)
    gone = vm.PlannedFile("pkg", "1.0", f"{srv.url}/missing-1.0.whl", None)
    with pytest.raises(vm.NotInstallableError, match=r"downloading missing-1.0.whl failed: HTTP Error 404"):
        vm.fetch(gone, wheelhouse)
    assert list(wheelhouse.iterdir()) == []
    unreachable = vm.PlannedFile("pkg", "1.0", "http://127.0.0.1:9/pkg-1.0.whl", None)  # the discard port
    with pytest.raises(vm.NotInstallableError, match=r"downloading pkg-1\.0\.whl failed"):
        vm.fetch(unreachable, wheelhouse, timeout=5)


def test_local_files_are_used_in_place(tmp_path: Path) -> None:
    local = tmp_path / "torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl"
    local.write_bytes(b"wheel")
    planned = vm.PlannedFile("torch", "2.13.0+cpu", local.as_uri(), None)
    assert vm.fetch(planned, tmp_path / "wheels") == local
    assert not (tmp_path / "wheels").exists()
    local.unlink()
    with pytest.raises(vm.NotInstallableError, match=r"local file .* is gone \(run with --refresh\)"):
        vm.fetch(planned, tmp_path / "wheels")


def test_the_announcement_counts_each_file_once(server: tuple[_Server, Path], tmp_path: Path) -> None:
    srv, root = server
    wheelhouse = tmp_path / "wheels"
    wheelhouse.mkdir()
    shared = _served(root, srv.url, "nvidia_big-1-py3-none-any.whl", b"n" * 3_000_000)
    own_a = _served(root, srv.url, "torch-a.whl", b"a" * 1_000_000)
    own_b = _served(root, srv.url, "torch-b.whl", b"b" * 2_000_000)
    cached = _served(root, srv.url, "cached-1.whl", b"c" * 500_000)
    (wheelhouse / "cached-1.whl").write_bytes(b"c" * 500_000)
    combos = [vm.Combo("3.11", "9.0", "latest", "a"), vm.Combo("3.12", "9.0", "latest", "b")]
    combos.append(vm.Combo("3.13", "9.0", "latest", "c"))
    plans = {
        combos[0].id: vm.Plan(combos[0].id, "3.11", [], [shared, own_a, cached], "now"),
        combos[1].id: vm.Plan(combos[1].id, "3.12", [], [shared, own_b], "now"),
    }
    for plan in plans.values():
        vm.fill_sizes(plan, wheelhouse)
    assert [f.size for f in plans[combos[0].id].files] == [3_000_000, 1_000_000, 500_000]
    assert vm.cached_bytes(plans[combos[0].id], wheelhouse) == (500_000, 4_000_000)
    table, total = vm.announce(combos, plans, {combos[2].id: "no wheel"}, wheelhouse)
    assert total == 6_000_000  # the shared 3 MB once
    lines = table.splitlines()
    assert "3 files, 4.50 GB" not in lines[0]
    assert lines[0].endswith("3 files, 4 MB; on this machine 0 MB, to download 4 MB")
    assert lines[1].endswith(
        "2 files, 5 MB; on this machine 0 MB, to download 5 MB (3 MB of it shared with a row above)"
    )
    assert lines[2].endswith("not installable: no wheel")


# ---------------------------------------------------------------------------------------------------------
# Results: JUnit, parity errors, changes, rendering
# ---------------------------------------------------------------------------------------------------------
def test_junit_outcomes_count_and_name_what_did_not_pass(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="4">'
        '<testcase classname="tests.a" name="test_ok"/>'
        '<testcase classname="tests.a" name="test_bad"><failure message="x"/></testcase>'
        '<testcase classname="tests.b" name="test_err"><error message="y"/></testcase>'
        '<testcase classname="tests.b" name="test_skip"><skipped message="no torchvision"/></testcase>'
        '<testcase classname="tests.b" name="test_old"><skipped type="pytest.xfail" message="torch &lt; 2.7"/>'
        "</testcase></testsuite></testsuites>"
    )
    counts, outcomes = vm.junit_outcomes(junit)
    assert counts == {"passed": 1, "failed": 1, "errors": 1, "skipped": 2, "total": 5}
    assert outcomes == {
        "tests.a::test_bad": "failed",
        "tests.b::test_err": "error",
        "tests.b::test_skip": "skipped: no torchvision",
        "tests.b::test_old": "expected failure: torch < 2.7",
    }


def _parity_json() -> dict[str, Any]:
    return {
        "components": [
            {
                "spec": "Dense",
                "cases": [
                    {"case": "c1", "dtype": "float64", "errors": {"output": 2e-16, "grad:W": 4e-16}},
                    {"case": "c1", "dtype": "float32", "errors": {"output": 1e-7, "grad:W": float("nan")}},
                ],
            },
            {"spec": "Trainer", "cases": [{"case": "t", "dtype": "float64", "errors": {"traj:loss": 1e-15}}]},
        ]
    }


def test_case_errors_and_the_worst_per_dtype_and_category() -> None:
    errors = vm.case_errors(_parity_json())
    assert errors == {
        "Dense | c1 | float64 | output": 2e-16,
        "Dense | c1 | float64 | grad:W": 4e-16,
        "Dense | c1 | float32 | output": 1e-7,
        "Trainer | t | float64 | traj:loss": 1e-15,
    }
    assert vm.worst_errors(errors) == {
        "float64": {"forward": 2e-16, "gradient": 4e-16, "trajectory": 1e-15},
        "float32": {"forward": 1e-7},
    }


def _result(combo: str, **extra: Any) -> dict[str, Any]:
    errors = vm.case_errors(_parity_json())
    return {
        "combo": combo,
        "role": "a role",
        "python": "3.11.7",
        "torch": "2.8.0",
        "numpy": "2.4.6",
        "torchvision": None,
        "status": "passed",
        "tests": {"passed": 10, "failed": 0, "errors": 0, "skipped": 1, "total": 11},
        "outcomes": {"tests.b::test_skip": "skipped: no torchvision"},
        "worst": vm.worst_errors(errors),
        "errors": errors,
        "timings": {"total": 93.4},
        "downloaded_bytes": 0,
        **extra,
    }


def test_changes_name_other_outcomes_and_errors_that_grew_past_the_floor() -> None:
    baseline = _result(vm.BASELINE)
    grown = dict(baseline["errors"])
    grown["Dense | c1 | float64 | grad:W"] = 8e-13  # 2000x and above the floor: a change
    grown["Dense | c1 | float64 | output"] = 9e-15  # 45x but under the float64 floor: round-off
    grown["Dense | c1 | float32 | output"] = 5e-7  # 5x: under the factor
    other = _result(
        "other",
        errors=grown,
        outcomes={"tests.a::test_bad": "failed"},  # and test_skip passed here
    )
    assert vm.changes(other, baseline) == [
        "`test_bad`: failed (baseline: passed)",
        "`test_skip`: passed (baseline: skipped: no torchvision)",
        "Dense | c1 | float64 | grad:W: error 8.0e-13 (baseline 4.0e-16)",
    ]
    assert vm.changes(baseline, baseline) == []
    assert vm.changes(other, None) == []


def test_the_table_shows_every_combination_and_the_changes() -> None:
    entries = [
        _result(vm.BASELINE),
        _result("py3.11-torch2.8.0-numpylatest", outcomes={}),
        {"combo": "py3.13-torch2.2.2", "role": "r", "status": "not installable", "reason": "no wheel | none"},
        {"combo": "broken", "unreadable": "expected a JSON object"},
    ]
    lines = vm.render(entries)
    text = "\n".join(lines)
    rows = [line for line in lines if line.startswith("| ")][1:]
    assert len(rows) == 4
    assert rows[0].startswith(
        f"| {vm.BASELINE}<br>a role | 3.11.7 | 2.8.0 | 2.4.6 | - | PASSED (10 passed, 0 failed, 1"
    )
    assert "| 2.0e-16 / 4.0e-16 / 1.0e-15 | 1.0e-07 / - / - | 93 s |" in rows[0]
    assert "not installable: no wheel \\| none" in rows[2]
    assert "unreadable: expected a JSON object" in rows[3]
    assert f"## Changes against the baseline ({vm.BASELINE})" in text
    assert "- **py3.11-torch2.8.0-numpylatest**:\n  - `test_skip`: passed (baseline: skipped: no torchvision)" in text
    assert "py3.13-torch2.2.2**" not in text  # nothing to compare for a combination that did not run
    assert "The baseline did not run" in "\n".join(vm.render(entries[1:]))
    assert vm.render([])[0].startswith("Not run yet: `python3 noxfile.py -s versions`")


def test_a_combination_without_a_plan_is_recorded_as_not_installable(tmp_path: Path) -> None:
    settings = _settings(tmp_path, pythons={})
    combo = vm.Combo("3.13", "2.2.2", "latest", "the oldest on 3.13")
    record = vm.run_one(combo, None, "no distribution of torch==2.2.2 for Python 3.13", settings, vm.Download(0))
    assert record["status"] == "not installable"
    assert record["reason"] == "no distribution of torch==2.2.2 for Python 3.13"
    written = json.loads((settings.results / f"{combo.id}.json").read_text())
    assert written == record
    assert "not installable: no distribution" in "\n".join(vm.render([written]))


def test_an_install_that_fails_or_lacks_disk_is_not_installable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "python3.11"
    fake.write_text("#!/bin/sh\necho 'no venv module' >&2\nexit 1\n", encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    settings = _settings(tmp_path, pythons={"3.11": fake})
    combo = vm.Combo("3.11", "9.0", "latest", "r")
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    wheel.write_bytes(b"x" * 1000)
    plan = vm.Plan(combo.id, "3.11", [], [vm.PlannedFile("pkg", "1.0", wheel.as_uri(), None, 1000)], "now")
    with pytest.raises(vm.NotInstallableError, match=r"the venv could not be made or filled: Command .* returned"):
        vm.install(combo, plan, [wheel], settings)
    assert not (settings.venvs / combo.id).exists()

    class Usage:
        free = 10**9  # 1 GB free, less than the plan's 2 GB margin

    monkeypatch.setattr(vm.shutil, "disk_usage", lambda path: Usage())
    with pytest.raises(
        vm.NotInstallableError, match=r"not enough disk: the venv needs about 2.00 GB, 1.00 GB are free"
    ):
        vm.install(combo, plan, [wheel], settings)


def test_the_committed_document_is_generated_from_its_json() -> None:
    doc = ROOT / "docs" / "versions.md"
    data = json.loads(doc.with_suffix(".json").read_text(encoding="utf-8"))
    assert doc.read_text(encoding="utf-8") == vm.document_from_json(data)
    combos = data["combos"]
    assert len(combos) >= 5
    assert len({c["torch"].split("+")[0] for c in combos if c.get("status") == "passed"}) >= 3
    assert data["command"].startswith("python3 noxfile.py -s versions -- ")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/versions.md" in readme


def test_main_lists_and_refuses_an_unknown_combination(tmp_path: Path) -> None:
    said: list[str] = []
    kwargs: dict[str, Any] = {"repo": tmp_path, "pythons": {}, "requirements": [], "env": {}, "machine": "m"}
    assert vm.main(["--list", "--only", "py3.12-*"], log=said.append, **kwargs) == 0
    assert said == ["py3.12-torch2.15.0-numpylatest: the newest torch on Python 3.12"]
    assert vm.main(["--only", "torch9"], log=said.append, **kwargs) == 2
    assert said[-1].startswith("versions: --only torch9 matches no combination; the combinations are: py3.11-")
