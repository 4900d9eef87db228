"""The ``kalshi`` console script: hold SIGTERM and SIGINT while the app imports, then run it
(see ``startup``).

Once the command is done (its output flushed, its files closed: the app's own ``finally`` and
``with`` blocks have run and ``sys.exit`` is on its way), ``gc.freeze()`` moves every object
to the collector's permanent generation, so the interpreter's teardown skips its collections
over everything the imports made: 40-170 ms less per process (``benchmarks/frame_cost.py
--why``). Nothing is lost by it: the standard streams are flushed at exit regardless, and no
writer here relies on the collector to flush or close (the recorder fsyncs and closes its
files, the exporters close theirs, before the command returns).
"""

from __future__ import annotations

import gc

from kalshi_cli.startup import hold_signals

__all__ = ["main"]


def main() -> None:
    hold_signals()
    try:
        from kalshi_cli.cli import main as run_app

        run_app()
    except KeyboardInterrupt:  # a Ctrl-C held through the import, raised before the CLI's boundary
        raise SystemExit(130) from None
    finally:
        gc.freeze()  # the command is over: skip the teardown's collections (see above)
