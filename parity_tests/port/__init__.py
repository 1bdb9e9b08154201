"""The porting toolkit: move weights between your NumPy model and a torch module, compare, and find where a
port first diverges. Public, typed, and used by this project's own specs and recipes.

- ``ParamMap``: your parameter names and layouts <-> ``state_dict`` keys, checked both ways (``mapping``);
  ``load_arrays`` loads a ``state_dict``-keyed dict into a module without silent casts.
- ``compare``/``compare_all``/``relative_error``/``tolerance``: the tolerance table with the tier
  (``"float64"``/``"float32"``) and the category (``"forward"``/``"gradient"``/``"trajectory"``) explicit.
- ``check_model``/``assert_parity``: forward layer by layer, input and parameter gradients, dropout in training
  mode and optimizer steps, with the first diverging layer, parameter and step named (``check``).
- ``scratch_map``/``to_torch``/``to_scratch``: every scratch model <-> its torch_impl twin or a plain
  ``nn.Sequential``/``nn.LSTM``/``nn.GRU`` (``models``; imports torch only when called).
- A pytest plugin (``parity_tests.port.plugin``, registered as ``dlfs_parity``): the ``parity`` fixture.

Importing this package does not import torch.
"""

from .check import LayerMatch, NumpyModel, ParityError, PortReport, adapt, assert_parity, check_model
from .compare import (
    CATEGORY_NAMES,
    TIERS,
    Category,
    Comparison,
    ComparisonSet,
    Tier,
    compare,
    compare_all,
    relative_error,
    tolerance,
)
from .mapping import LayoutRow, MappingError, ParamMap, load_arrays
from .models import (
    TARGETS,
    ScratchModel,
    Target,
    describe_target,
    model_key_table,
    run_plain_recurrent,
    scratch_map,
    scratch_params,
    to_scratch,
    to_torch,
)

__all__ = [
    "CATEGORY_NAMES",
    "TARGETS",
    "TIERS",
    "Category",
    "Comparison",
    "ComparisonSet",
    "LayerMatch",
    "LayoutRow",
    "MappingError",
    "NumpyModel",
    "ParamMap",
    "ParityError",
    "PortReport",
    "ScratchModel",
    "Target",
    "Tier",
    "adapt",
    "assert_parity",
    "check_model",
    "compare",
    "compare_all",
    "describe_target",
    "load_arrays",
    "model_key_table",
    "relative_error",
    "run_plain_recurrent",
    "scratch_map",
    "scratch_params",
    "to_scratch",
    "to_torch",
    "tolerance",
]
