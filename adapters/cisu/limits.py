"""Hard limits applied to every incoming wire message, before and while parsing.

They bound the work an untrusted peer can make us do; real NexSIS messages stay far below them
(a large EMSI is ~50 KB, ~2 000 elements, ~12 levels deep).
"""

MAX_BYTES = 1_048_576  # default for parse_wire_message(max_bytes=...)
MAX_DEPTH = 64  # nesting levels, for both JSON (objects/arrays) and XML (elements)
MAX_XML_ELEMENTS = 20_000
MAX_REASONS = 50  # a hostile message could produce thousands of errors; keep the report readable
