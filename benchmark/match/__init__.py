"""The ``match`` command: a recording to a patch."""
