"""``python -m latentzip.cli``."""

import sys

from latentzip.cli import main

sys.exit(main())
