"""`python -m clawdbot_nb` is the `clawdbot-nb` command."""

import sys

from clawdbot_nb.cli import main

sys.exit(main())
