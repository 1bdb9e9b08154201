"""The book's notebooks as modules: one per notebook, each offering every name the notebook defines or imports
from ``lincoln``, with the book's signatures, defaults, return types and printed messages.

They are thin: the mathematics is the top-level ``scratch`` components'; a book module adds only what the
book's API needs (its names and argument lists, its random streams, its printed messages). Where the book's
code is wrong, the book module is right, and the porting guide's errata say what changes
(``docs/porting-guide.md``). Randomness follows the book's streams from a private legacy
``np.random.RandomState`` per module, so the book's seeds give the book's numbers without touching NumPy's
global random state.

- ``ch1``: ``01_foundations/Code.ipynb``
- ``ch2_linear_regression``, ``ch2_network``: ``02_fundamentals/Code.ipynb`` (it defines ``train``,
  ``predict``, ``forward_loss``, ``init_weights`` and ``loss_gradients`` twice, with different meanings)
- ``ch3``: ``03_dlfs/Code.ipynb``
- ``ch4``: ``04_extensions/Code.ipynb`` (the book's ``lincoln`` library as chapters 4 and 5 use it)
- ``ch5``: ``05_convolutions/Code.ipynb``
- ``ch5_demos``: ``05_convolutions/Numpy_Convolution_Demos.ipynb``
- ``ch6_autograd``: ``06_rnns/Autograd_Simple.ipynb``
- ``ch6``: ``06_rnns/RNN_DLFS.ipynb``

``python3 noxfile.py -s book`` runs the notebooks themselves on these modules (``parity_tests.book``).
"""
