"""An example xrec-bench plugin: one explainer, registered through an entry point (see pyproject.toml)."""

__version__ = "0.1.0"
