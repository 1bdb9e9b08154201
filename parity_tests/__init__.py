"""parity_tests: the bridge between ``scratch`` and ``torch_impl``.

Converters (book layouts <-> torch state dicts), the harness (run a case in both implementations and
compare every result under one tolerance table), the component specs that generate the tests, the
mutation self-test, the parity report and the recipes. This is the only package that sees both
implementations. Importing it does not import torch.
"""
