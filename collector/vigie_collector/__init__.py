"""vigie-collector: the Vigie agent that runs on each monitored server."""

__version__ = "0.1.0"
