"""The command line: ``python -m benchmark <command>`` dispatch (:mod:`.main`), ``list`` (:mod:`.listing`)."""
