"""The protocol's data: manifests, parameters, ballots, tallies (pure: no I/O)."""
