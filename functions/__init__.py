"""Vigie's stateless REST functions: servers, metrics, history (and alerts).

Each group is a Flask blueprint that can run alone as a function, and
``functions.app:app`` serves them all for gunicorn.
"""
