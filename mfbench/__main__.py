"""``python -m mfbench``: the same command line as the ``mfbench`` script."""

import sys

from mfbench.cli import main

sys.exit(main())
