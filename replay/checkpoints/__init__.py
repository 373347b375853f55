"""Checkpoints of the replay views: as-of(T) = nearest valid checkpoint + fold of the events after it.

A checkpoint is the projections' in-memory views (projections.memory.MemoryViews: case entries, case
rows, territory figures) after folding a PREFIX of the log, every event up to notification id `n`.
It records, besides `n`:
- `recorded_max`: the latest recording time (`tocsin_chain.chained_at`) among events <= n;
- `happened_max`: the latest "happened at" time (replay/event_log.py) among events <= n.

Validity (both senses fold a subset of the log in notification order, see replay/as_of.py):
- known at T: the events folded are those chained by T, a prefix of the log; a checkpoint fits iff
  `recorded_max <= T` (then every event it contains is in the subset).
- happened by T: the events folded are those that happened by T, in notification order; a
  checkpoint fits iff `happened_max <= T`: every event <= n belongs to the subset, so the checkpoint
  is exactly the fold of the subset's first part, and the rest of the subset (events after n that
  happened by T) is folded on top, in order: the same result as folding the subset from zero.
  A message sent "in the future" (a skewed clock) raises `happened_max` for every later checkpoint;
  they then do not fit earlier moments and an earlier checkpoint (or none: fold from the first event)
  is used. Always correct, only slower.
Both maxima are non-decreasing with n, so the best checkpoint is the one with the highest n that fits.

Blocks: the events after the checkpoint that belong to the subset are found without reading the rest
of the log. Each checkpoint stores, for the log it folded since the previous one, blocks of `BLOCK`
consecutive events with their earliest recording and "happened at" times; a block whose earliest time
is after T holds no event of the subset and is not read. Happened by T otherwise reads every event
recorded after the checkpoint, to the end of the log, to find the few sent by T; with blocks it reads
up to about T, plus any block holding a message delivered late (correct whatever the delays, only
slower), plus the events after the latest checkpoint, which no block covers yet.

Loading: replaying one département loads one shard plus the shards of the few cases that the events
after the checkpoint bring into it, not the whole country. Of the events after the checkpoint, only
those of the cases in scope are decoded (resource and acknowledgement events of other cases carry no
placement, so they are skipped undecoded), and a case's folded state is rebuilt from the shard only
when one of them touches it (LazyEntries): the rows of the others are enough to show them.

Checkpoints are disposable, like every view: `tocsin replay checkpoint` folds the events since the
latest checkpoint and stores one every `every` events (default 50,000).

The modules, one job each:
- storage: the tables; save, list, drop, find the best checkpoint, load its parts;
- documents: how the views are laid out in the stored parts, and read back lazily;
- scan: reading pages of events and the block ranges of the log;
- build: building checkpoints (one builder at a time).
The replay itself (which checkpoint, which shards, which events) is replay/as_of.py, with
replay/scope.py.
"""
