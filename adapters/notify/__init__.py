"""Mobilisation's adapters: the alert policy process, the delivery channels (SMTP…), the acknowledgement
tokens and the use cases every door calls (adapters.notify.use_cases)."""
