"""Hostile input: what a crafted message costs to refuse, against what a valid message costs to accept.

The crafted message carries, in its `caseId`, a near-match of the RC-EDA pattern that makes a
backtracking regex engine (libxml2's) explode; adapters.cisu.xsd_patterns checks every XSD pattern in
linear time first. Figures: CPU per message of parse_wire_message (parse + validation, what every door
runs), median of 3 runs, in both encodings, and the crafted/valid ratio (the goal: a few times at most).
Run: `python -m tests.benchmarks` (all benches) or `python -m tests.benchmarks.bench_hostile [N]`.
"""

from __future__ import annotations

import statistics
import sys
import time

from adapters.cisu import InvalidMessage, parse_wire_message
from tests.support.wire import as_json, as_xml, example, wire

RUNS = 3


def messages(count: int, crafted: bool, encoding: str) -> list[bytes]:
    out = []
    for index in range(count):
        kind, use_case = example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")
        use_case["caseId"] = ("a" * 30 + "!") if crafted else f"fr.fire.sis35.cgo-35.bench-{index}"
        w = wire(kind, use_case)
        out.append(as_json(w) if encoding == "json" else as_xml(w))
    return out


def cpu_per_message(raws: list[bytes], encoding: str) -> float:
    content_type = f"application/{encoding}"
    started = time.process_time()
    for raw in raws:
        try:
            parse_wire_message(raw, content_type)
        except InvalidMessage:
            pass
    return (time.process_time() - started) / len(raws)


def main(count: int = 200) -> None:
    for encoding in ("json", "xml"):
        figures = {}
        for crafted in (False, True):
            raws = messages(count, crafted, encoding)
            cpu_per_message(raws[:5], encoding)  # schemas compiled, caches warm
            figures[crafted] = statistics.median(cpu_per_message(raws, encoding) for _ in range(RUNS))
        valid, hostile = figures[False], figures[True]
        print(f"   {encoding:4} : valide {valid * 1e6:8.0f} µs CPU/message, forgé {hostile * 1e6:8.0f} µs CPU/message, "
              f"rapport forgé/valide {hostile / valid:5.2f}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
