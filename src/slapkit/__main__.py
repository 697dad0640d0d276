"""``python -m slapkit``: the ``slapkit`` command."""

import sys

from slapkit.command import main

sys.exit(main())
