"""Train and evaluate a model, as RecBole's run_recbole.py: ``python run_recbole_hug.py -m HUGT``.

Every RecBole flag works (``--model/-m``, ``--dataset/-d``, ``--config_files``, ``--nproc``, ...),
and any other option is given as ``--key=value``.
"""

import sys

from recbole_hug.quick_start import main

if __name__ == "__main__":
    sys.exit(main())
