"""``python -m virtkit_conformance`` is ``virtkit-certify``."""

import sys

from .certify import main

sys.exit(main())
