"""Vercel's entry point: every ``/api/*`` request (vercel.json routes them here)
reaches the combined WSGI app with its full path.

Vercel looks for a top-level ``app`` with ``dir()`` on this module: it is
``functions.app:app``, built on the first request. Nothing named ``handler`` may
live here: Vercel would take it for an HTTP handler class.
"""

from functions.app import app

__all__ = ["app"]
