"""``python -m a3c`` is the ``a3c`` command."""

import sys

from a3c.cli import main

sys.exit(main())
