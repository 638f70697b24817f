"""``python -m fastgdml.cli``: the ``fastgdml`` command."""
import sys

from .entry import main

sys.exit(main())
