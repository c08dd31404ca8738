"""The ``virtkit`` command line: virsh's commands, flags and output over virtkit's public API.

:mod:`.main` is the entry point; each command lives in the module named for what it manages
(:mod:`.host`, :mod:`.domain`, :mod:`.event`, :mod:`.extra`) and is imported only when run.
"""
