"""``python -m extraction`` (from a checkout) and ``python -m kerascope.extraction``.

The command runs under the library's one import name, ``kerascope.extraction``, so that the
records it makes, the worker processes it starts and anything they load share that name.
"""

from __future__ import annotations

import sys

from kerascope.extraction.cli import main

sys.exit(main())
