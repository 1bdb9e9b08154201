"""Paired benchmarks generated from the specs: scratch vs torch, same process, one thread.

Run them with ``python3 noxfile.py -s bench`` (or ``pytest --benchmark-only``); the normal test run uses
``--benchmark-disable`` and executes each benchmark body once, so they cannot rot.
"""

from __future__ import annotations

import numpy as np
import pytest

from parity_tests.harness import case_seed
from parity_tests.specs import all_specs

BENCH = [
    pytest.param(spec, case, impl, id=f"{spec.name}[{case.name}]-{impl}")
    for spec in all_specs()
    for case in spec.bench
    for impl in ("scratch", "torch")
]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("spec", "case", "impl"), BENCH)
def test_benchmark(benchmark, spec, case, impl, dtype):
    if dtype not in spec.dtypes:
        pytest.skip(f"{spec.name} runs in {spec.dtypes} only")
    problem = spec.make_problem(case, np.random.default_rng(case_seed(spec.name, case.name)), np.dtype(dtype))
    factory = spec.bench_scratch if impl == "scratch" else spec.bench_torch
    step = factory(problem)
    benchmark.group = f"{spec.name}[{case.name}]-{dtype}"
    benchmark(step)
