"""Work spread over processes of this machine (spawned: nothing is inherited)."""
