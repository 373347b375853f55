"""A seeded crisis simulator producing realistic NexSIS / CISU wire messages (storm, wildfire, flood).

    simulate(scenario, size=…, seed=…) -> Iterator[SimulatedMessage]   (streamed, deterministic)
    write_messages(messages, out_dir) -> int
    SCENARIOS: scenario key -> French description

Modules: scenarios (incident profiles per crisis), world (communes, stations: static, cached),
fleet (vehicles and dispatch), cases (planning one case and its messages), builders (use-case
objects), timeline (the streaming loop), output (files), people / organisations / clock (helpers).
"""

from .output import write_messages
from .scenarios import SCENARIOS
from .timeline import SimulatedMessage, simulate

__all__ = ["SCENARIOS", "SimulatedMessage", "simulate", "write_messages"]
