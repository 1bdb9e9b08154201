"""The book runner: the book's own notebooks executed on this project (see ``runner.py`` and ``manifest.py``)."""
