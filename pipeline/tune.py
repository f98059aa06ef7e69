"""Moved to ``pipeline.tuning`` (``fer-tune``'s command line: ``pipeline.tuning.cli``).

This module stays so that ``python -m pipeline.tune`` and existing imports of its main names keep working.
"""

import sys

from pipeline.tuning import SearchConfig, SearchResult, retrain_best, run_search, tuning_role
from pipeline.tuning.cli import build_parser, main

__all__ = ["SearchConfig", "SearchResult", "build_parser", "main", "retrain_best", "run_search", "tuning_role"]

if __name__ == "__main__":
    sys.exit(main())
