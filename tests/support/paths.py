"""Where the project's files are, for tests at any depth of `tests/`."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "adapters" / "reference" / "cisu"
