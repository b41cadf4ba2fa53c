"""``python -m crontabber`` is the ``crontabber`` command."""

import sys

from crontabber.cli.main import main

sys.exit(main())
