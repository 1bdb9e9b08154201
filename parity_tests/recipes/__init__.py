"""Runnable recipes: the book's experiments, each run in ``scratch`` and in ``torch_impl`` side by side.

Run one with ``python -m parity_tests.recipes NAME [options]``; ``python -m parity_tests.recipes --help``
lists them, and ``python -m parity_tests.recipes NAME --help`` gives a recipe's options.
"""
