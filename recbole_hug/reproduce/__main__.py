"""``python -m recbole_hug.reproduce PAPER --dataset NAME [...]``."""

import sys

from recbole_hug.reproduce.runner import main

sys.exit(main())
