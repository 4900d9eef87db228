"""startup.hold_signals: SIGTERM and Ctrl-C never raise inside module code (an import, a string
given to eval), and are not lost; each case a real ``python -m`` process signalling itself at
that exact moment (``-m`` as the tests' CLI runs: it is where CPython turns a KeyboardInterrupt
that left a string's eval into death by SIGINT). The CLI-level test, a signal at random
moments of ``kalshi tail``'s startup, is test_cli_tail's."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from kalshi_cli.startup import in_module_code
from tests.conftest import cli_env

HEAD = """
import os, signal, sys, time
from kalshi_cli.startup import hold_signals, startup_done

def say(text):
    sys.stderr.write(text + "\\n")
    sys.stderr.flush()

def wait_for_signals():  # outside module code: where a held signal lands
    for _ in range(400):
        time.sleep(0.005)
    say("never interrupted")
"""


def run_probe(tmp_path: Path, main: str, modules: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Run ``main`` (after ``HEAD``) as ``python -m probe``, beside ``modules`` (name -> source)."""
    package = tmp_path / "probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(HEAD + textwrap.dedent(main))
    for name, source in (modules or {}).items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    proc = subprocess.run([sys.executable, "-m", "probe"], env=cli_env(), cwd=tmp_path, capture_output=True, timeout=60)
    return proc.returncode, proc.stderr.decode().splitlines()


SIGNALS_ITSELF = """
import os, signal, sys, time
os.kill(os.getpid(), signal.{sig})
for _ in range(20):  # module code goes on: a signal raised here would cut it short
    time.sleep(0.002)
sys.stderr.write("module finished\\n")
"""
# the command's own handler, installed before the import is over (as run_main's is, later)
HANDLER_OF_ITS_OWN = """
got = []
signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
"""


def test_ctrl_c_during_an_import_waits_for_it_then_exits_130(tmp_path):
    code, err = run_probe(
        tmp_path,
        """
        hold_signals()
        startup_done()  # the app is loaded; the command imports what it needs lazily
        try:
            import slow_module
            wait_for_signals()
        except KeyboardInterrupt:
            say("interrupted")
            sys.exit(130)
        """,
        {"slow_module": SIGNALS_ITSELF.format(sig="SIGINT")},
    )
    assert (code, err) == (130, ["module finished", "interrupted"])


def test_sigterm_during_an_import_waits_for_it_then_exits_0(tmp_path):
    code, err = run_probe(
        tmp_path,
        """
        hold_signals()
        startup_done()
        try:
            import slow_module
            wait_for_signals()
        finally:
            say("cleaned up")
        """,
        {"slow_module": SIGNALS_ITSELF.format(sig="SIGTERM")},
    )
    assert (code, err) == (0, ["module finished", "cleaned up"])


def test_ctrl_c_inside_a_strings_eval_still_exits_130(tmp_path):
    """typer evaluates every string annotation: a KeyboardInterrupt leaving such an eval made
    CPython end the process with SIGINT (-2) although the CLI had caught it and exited 130."""
    code, err = run_probe(
        tmp_path,
        """
        hold_signals()
        startup_done()  # then typer builds the command, evaluating its annotations
        result = []
        try:
            result.append(eval("__import__('os').kill(__import__('os').getpid(), 2) or sum(range(100000))"))
            wait_for_signals()
        except KeyboardInterrupt:
            say(f"interrupted after {result}")
            sys.exit(130)
        """,
    )
    assert (code, err) == (130, [f"interrupted after {[sum(range(100000))]}"])


def test_a_signal_noted_during_the_apps_import_ends_the_run_at_startup_done(tmp_path):
    code, err = run_probe(
        tmp_path,
        """
        hold_signals()
        try:
            import quick_module
            startup_done()
            say("after startup_done")
        except KeyboardInterrupt:  # the retry came first (a slow machine): the CLI's boundary says 130
            sys.exit(130)
        """,
        {"quick_module": "import os, signal\nos.kill(os.getpid(), signal.SIGINT)\n"},
    )
    assert (code, err) == (130, [])


def test_a_signal_noted_during_an_import_goes_to_the_handler_installed_since(tmp_path):
    """A streaming command installs its own handler (feeds.signals.run_main) after its imports:
    the noted signal is raised again for that handler, which cancels cleanly instead."""
    code, err = run_probe(
        tmp_path,
        """
        hold_signals()
        startup_done()
        import slow_module
        for _ in range(400):
            if slow_module.got:
                break
            time.sleep(0.005)
        say(f"command's handler got {slow_module.got}")
        """,
        {"slow_module": SIGNALS_ITSELF.format(sig="SIGINT") + HANDLER_OF_ITS_OWN},
    )
    assert (code, err) == (0, ["module finished", "command's handler got [2]"])


def test_ctrl_c_in_a_del_is_not_printed_and_lost(tmp_path):
    """Python cannot raise from ``__del__`` (or a weakref callback): it would print
    "Exception ignored" and carry on as if no Ctrl-C had come. The interrupt is taken back."""
    code, err = run_probe(
        tmp_path,
        """
        class Dropped:
            def __del__(self):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.001)

        def drop():
            Dropped()

        hold_signals()
        startup_done()
        try:
            drop()
            wait_for_signals()
        except KeyboardInterrupt:
            say("interrupted")
            sys.exit(130)
        """,
    )
    assert (code, err) == (130, ["interrupted"])


def test_in_module_code_tells_a_strings_eval_and_an_import_from_a_function():
    assert not in_module_code(sys._getframe())
    assert eval("in_module_code(sys._getframe())", {"in_module_code": in_module_code, "sys": sys})


def test_a_held_ctrl_c_raised_before_the_clis_boundary_still_exits_130(tmp_path):
    """The retry can raise a held Ctrl-C between the app's import and the CLI's try (or after it,
    before exiting): the console script's main turns it into exit 130, with no traceback."""
    code, err = run_probe(
        tmp_path,
        """
        import types
        fake = types.ModuleType("kalshi_cli.cli")
        def main():
            raise KeyboardInterrupt  # as _act raises it, outside cli._run
        fake.main = main
        sys.modules["kalshi_cli.cli"] = fake
        from kalshi_cli.entry import main as console_script
        console_script()
        """,
    )
    assert (code, err) == (130, [])
