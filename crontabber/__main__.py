"""``python -m crontabber`` is the ``crontabber`` command."""

import sys

from crontabber.cli import main

sys.exit(main())
