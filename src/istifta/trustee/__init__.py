"""The trustees' ceremony on a trustee's own machine (:mod:`.ceremony`): its state,
its files, and the room that runs it over the board. (The organiser's view of its
progress is :mod:`istifta.store.ceremony_progress`.)"""
