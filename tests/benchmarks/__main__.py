"""Run every bench_*.py module of this folder (its `main()`), each printing its own figures."""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path


def run_all() -> int:
    failures = 0
    for path in sorted(Path(__file__).resolve().parent.glob("bench_*.py")):
        name = f"{__package__ or 'tests.benchmarks'}.{path.stem}"
        print(f"== {path.stem}", flush=True)
        began = time.perf_counter()
        try:
            importlib.import_module(name).main()
        except Exception:  # one broken bench must not hide the others' figures
            failures += 1
            traceback.print_exc()
            print(f"   {path.stem} : ÉCHEC", flush=True)
        print(f"   ({time.perf_counter() - began:.0f} s)", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run_all())
