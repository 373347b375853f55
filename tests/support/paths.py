"""Where the project's files are, for tests at any depth of `tests/`."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "adapters" / "reference" / "cisu"
# Tocsin's own example messages of use cases the official set has no example of (adapters/reference holds
# only official files): valid against the official schemas, tested like the official examples.
NEXSIS_FIXTURES = ROOT / "tests" / "fixtures" / "nexsis"
