"""Entry point for ``python -m weightscope`` (the same as the ``weightscope`` command)."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
