"""The electorate's roll as files: reading the public credentials and regions an
organiser or a registrar hands over (:mod:`.files`)."""
