"""An example xrec-bench plugin: one explainer and one metric, registered through entry points (see pyproject.toml)."""

__version__ = "0.1.0"
