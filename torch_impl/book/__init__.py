"""The book's PyTorch notebook as a module: every name chapter 7's notebook defines or imports from
``lincoln.pytorch``, with the book's signatures, defaults, return types (its models return tuples) and printed
messages.

Thin, like ``scratch.book``: the mathematics is the top-level ``torch_impl`` components'; the book module adds
the book's API and its use of torch's global random generator (the notebook seeds it with ``torch.manual_seed``;
the book's layers, shuffles and dropout masks then draw from it in the book's order). Where the book's code is
wrong, the book module is right (``docs/porting-guide.md``, errata). This package never imports ``scratch``.

- ``ch7``: ``07_PyTorch/Code.ipynb``

``python3 noxfile.py -s book`` runs the notebook itself on this module (``parity_tests.book``).
"""
