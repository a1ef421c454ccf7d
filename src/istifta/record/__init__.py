"""The election record: reading and writing it (:mod:`.io`), and the verifier's
process pool (:mod:`.pool`)."""
