"""The relay runs on gevent: check it before anything touches the database.

psycopg picks how it waits for the server when it is first imported: a C function
that blocks the whole process, unless gevent has already patched ``select``. A
relay that imported psycopg too early looks fine and then freezes every client
while one query waits. So the relay refuses to start instead.
"""

from __future__ import annotations

import sys

RUN_IT = "run the relay with: gunicorn -k gevent -w 1 realtime.relay:app (never with --preload)"


class NotGreen(RuntimeError):
    """The process is not patched by gevent, or patched too late for psycopg."""


def require_gevent() -> None:
    from gevent import monkey

    if not (monkey.is_module_patched("socket") and monkey.is_module_patched("select")):
        raise NotGreen(f"the relay needs a gevent-patched process; {RUN_IT}")
    if "psycopg" in sys.modules:
        import psycopg.waiting

        if psycopg.waiting.wait is getattr(psycopg.waiting, "wait_c", None):
            raise NotGreen(
                "psycopg was imported before gevent patched the standard library "
                f"(--preload, or an import in a gunicorn config file); {RUN_IT}"
            )
