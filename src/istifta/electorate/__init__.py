"""The electorate's roll as files (:mod:`.files`: the public credentials and regions an
organiser or a registrar hands over) and Iraq's governorates (:mod:`.regions`)."""
