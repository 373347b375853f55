"""The crisis workspace's use cases: crises, requests between authorities, the log book, situation reports."""
