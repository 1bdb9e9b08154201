"""``python -m parity_tests.report``: see ``parity_tests.report``."""

from . import main

raise SystemExit(main())
