"""Where things are, for tests at any depth of the tree."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the project
FIXTURES = ROOT / "tests" / "fixtures"
SHARED_DATA = ROOT.parent / "shared" / "data"  # development data beside the project, when present
