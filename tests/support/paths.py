"""Where the repository and the test data live, for every test file wherever it sits in the tree."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
INVALID = DATA / "invalid"
