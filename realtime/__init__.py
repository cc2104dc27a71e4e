"""Vigie's realtime relay: socket.io rooms fed by PostgreSQL LISTEN/NOTIFY.

``realtime.relay:app`` is the relay (``gunicorn -k gevent -w 1``);
``realtime.relay:local_app`` adds the API and the dashboard on the same port for
the local run. See ``realtime/feed.py`` for how notifications become events.
"""
