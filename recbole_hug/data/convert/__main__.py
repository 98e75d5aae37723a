"""``python -m recbole_hug.data.convert``: see :mod:`recbole_hug.data.convert.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
