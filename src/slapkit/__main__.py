"""``python -m slapkit``: the ``slapkit`` command."""

import sys

from slapkit.runner.cli import main

sys.exit(main())
