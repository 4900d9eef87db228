"""Feeds: what each streaming command does with the stream, apart from its command line.

A feed module (``tail``, ``book``, ``fills``, ``positions``, ``orders``, ``record``) holds a
settings dataclass, its stream handler and ``run(settings, env)``; every feed runs on
``runner.run_feed`` (the session plus side tasks, ``--count``/``--once``, the end of a
replay) inside ``runner.run_main`` (signals). Output goes through ``kalshi_cli.sinks``.
Nothing is imported here: ``kalshi sign`` loads ``feeds.context`` alone.
"""
