"""``python -m mfbench.cli``: the ``mfbench`` command (sweeps start their runs this way)."""

import sys

from mfbench.cli import main

sys.exit(main())
