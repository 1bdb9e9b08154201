"""Chapter 1 (``01_foundations/Code.ipynb``): functions, chains, derivatives and matrix functions.

Every name the notebook defines, on ``scratch.fundamentals`` (the mathematics lives there). What this module
adds is the book's API around it:

- ``Array_Function`` and ``Chain``, the notebook's type aliases;
- ``plot_chain`` / ``plot_chain_deriv``, the notebook's plotting helpers (matplotlib axes in, nothing out),
  with the ``length`` argument of their second version (2 or 3);
- ``matrix_function_forward_sum(X, W, sigma, modify_x11=False, x11=0.5)`` is the notebook's last version (the
  library's function has those arguments): with ``modify_x11=True`` the sum is computed with ``X[0, 0]``
  replaced by ``x11``. The book's version raises ``UnboundLocalError`` when ``modify_x11`` is False (its copy of
  X is made only in the other branch); here it uses X as given (guide erratum E23).

``matmul_backward_first`` is the gradient of the sum of ``X · W`` with respect to X, shape ``[n, k]``; the
book's returns ``Wᵀ`` (shape ``[m, k]``), which is the same array for the chapter's one-row X.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import fundamentals
from ..fundamentals import *  # noqa: F403 - every chapter 1 function: fundamentals.__all__
from ..fundamentals import ArrayFunction, Chain, chain_deriv_2, chain_deriv_3, chain_length_2, chain_length_3

__all__ = ["Array_Function", "Chain", "plot_chain", "plot_chain_deriv"]
__all__ += fundamentals.__all__

Array_Function = ArrayFunction  # the notebook's name: a function from an ndarray to an ndarray


def _chain_values(chain: Chain, input_range: np.ndarray, length: int, derivative: bool) -> np.ndarray:
    if length not in (2, 3):
        raise ValueError(f"length must be 2 or 3 (a chain of two or three functions); received {length!r}")
    if derivative:
        return chain_deriv_2(chain, input_range) if length == 2 else chain_deriv_3(chain, input_range)
    return chain_length_2(chain, input_range) if length == 2 else chain_length_3(chain, input_range)


def plot_chain(ax: Any, chain: Chain, input_range: np.ndarray, length: int = 2) -> None:
    """Plot the chain's value over ``input_range`` (1-D) on the matplotlib axes ``ax``."""
    ax.plot(input_range, _chain_values(chain, input_range, length, derivative=False))


def plot_chain_deriv(ax: Any, chain: Chain, input_range: np.ndarray, length: int = 2) -> None:
    """Plot the chain's derivative (the chain rule on central differences) over ``input_range`` on ``ax``."""
    ax.plot(input_range, _chain_values(chain, input_range, length, derivative=True))
