"""recbole-hug: HUGT and HG-GNN for RecBole, with RecBole's own models through one entry point."""

from recbole_hug.registry import register

__version__ = "0.1.0"

__all__ = ["__version__", "register"]
