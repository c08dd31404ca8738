"""Makes this directory's helper modules (xml_strategies, xml_oracle) importable under the
project's ``--import-mode=importlib``."""

from __future__ import annotations

import sys
from pathlib import Path

_here = str(Path(__file__).resolve().parent)
if _here not in sys.path:
    sys.path.insert(0, _here)
