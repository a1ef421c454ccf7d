"""The demo: a whole referendum on this machine (:mod:`.referendum`) and the
voters it simulates through the HTTP API (:mod:`.voters`)."""
