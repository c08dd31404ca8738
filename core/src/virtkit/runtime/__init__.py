"""The runtime: driver discovery (:mod:`.registry`), dispatch through one plugin manager per
connection (:mod:`.dispatch`), configuration (:mod:`.config`) and event delivery
(:mod:`.events`). It stands on :mod:`virtkit.sdk`; drivers never import it."""
