"""Tune a model's options, as RecBole's run_hyper.py: ``python run_hyper_hug.py -m HUGT -d ml-100k
--params_file=properties/hyper/HUGT.hyper --algo=bayes --max_evals=30``.

RecBole's flags (``--config_files``, ``--params_file``, ``--output_file``, ``--tool Hyperopt|Ray``),
``--algo``, ``--max_evals``, and any fixed option as ``--key=value`` (see docs/tuning.md).
"""

import sys

from recbole_hug.tune import main

if __name__ == "__main__":
    sys.exit(main())
