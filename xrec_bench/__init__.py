"""xrec-bench: a reproducible benchmark for explanations of text-based recommender systems.

Data flows one way: ``datasets -> models -> explainers -> metrics -> harness -> leaderboard``.
A layer imports only the layers to its left, plus the small shared modules
(:mod:`xrec_bench.registry`, :mod:`xrec_bench.seeding`, :mod:`xrec_bench.io`, :mod:`xrec_bench.paths`).
"""

__version__ = "0.1.0"
