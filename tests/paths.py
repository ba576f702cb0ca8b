"""Where the suite finds its data: SONATA fixtures in shared/ beside the repo, and examples/."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MANO_SHARED", REPO.parent / "shared"))
SONATA = SHARED / "fixtures" / "sonata"
EXAMPLES = REPO / "examples"
