"""The cryptographic core: pure functions over ristretto255 (PROTOCOL.md §1, §3, §4, §5, §7)."""
