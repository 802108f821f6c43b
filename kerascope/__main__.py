"""Entry point for ``python -m kerascope`` (the same as the ``kerascope`` command)."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
