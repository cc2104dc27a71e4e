"""Vigie's core: what the functions (``functions/``) and the relay (``realtime/``)
both need, and the ``vigie`` command.

- ``settings``: every setting, in sections, parsed from the environment once;
- ``db``: the connection pool and the serverless single-connection mode;
- ``wire``: a sample's fields and how times are written, for both sides;
- ``tokens``: hashed tokens, compared in constant time;
- ``embedded``, ``migrate``, ``maintenance``: the embedded PostgreSQL, the schema
  and its routines, history upkeep;
- ``serve``, ``local``, ``cli``: how the processes are started.

The arrows run one way: ``functions`` and ``realtime`` import this package, this
package imports neither (the local run composes them by name, as gunicorn does).
"""
