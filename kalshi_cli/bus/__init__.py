"""The bus: Kalshi frames through NATS JetStream, so several recorders feed one log exactly once.

``record --sink nats://...`` publishes (``publisher``, spooling to disk while the server is away:
``spool``) into a stream it creates or checks (``stream``); ``tail``/``book --from nats://...``
read it back (``consumer``; a book from its latest safe snapshot: ``bookstart``). ``subjects``
names where a frame goes, ``target`` parses the URL and its credentials, ``connect`` opens the
connection. nats-py is the ``[nats]`` extra: it is imported only here, and only when a bus is used.
"""
