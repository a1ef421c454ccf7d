"""The trustees' ceremony on a trustee's own machine (:mod:`.ceremony`): its state and
files, the room that runs it over the board, and the organiser's view of its progress."""
