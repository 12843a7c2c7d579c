"""`python -m stratus_local` - see `stratus_local.stack` (and `--help`)."""

from __future__ import annotations

import sys

from stratus_local.stack import main

# Guarded: uvicorn's --workers mode spawns processes that re-import this module as __mp_main__.
if __name__ == "__main__":
    sys.exit(main())
