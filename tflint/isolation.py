"""Run a function in a child process with a time limit.

The TFLite converter and the LiteRT interpreter are native code: on a bad
model they may crash the process (a segfault) or never return.  Running them
here keeps tflint alive and turns either into a one-line error such as
``converter crashed (signal 11)`` or ``converter timed out after 300 s``.

The function is named, not sent: the child imports ``module:qualname`` and
calls it with the pickled arguments, so only module-level functions of code
tflint already trusts can run (never anything read from a model).
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

#: Lines of the child's stderr kept to explain a crash.
STDERR_TAIL = 20


@dataclass
class Outcome:
    """The function's return value, or why there is none."""

    value: Any = None
    #: One line for the user, e.g. "converter crashed (SIGSEGV)".
    error: str | None = None
    #: The rest of the story: the exception's full message, the child's stderr tail.
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


def target_name(function: str | Callable[..., Any]) -> str:
    """``module:qualname`` of a module-level function (or the string itself)."""
    if isinstance(function, str):
        return function
    name = f"{function.__module__}:{function.__qualname__}"
    if "<" in function.__qualname__ or function.__module__ == "__main__":
        raise ValueError(f"{name} cannot be imported by a child process")
    return name


def run_isolated(function: str | Callable[..., Any], *args: Any, timeout: float,
                 what: str = "child process", env: dict[str, str] | None = None,
                 **kwargs: Any) -> Outcome:
    """Call ``function(*args, **kwargs)`` in a fresh Python process.

    ``what`` names the work in error lines ("converter", "interpreter").
    ``env`` is the child's whole environment (default: this process's, with
    TensorFlow's C++ logging silenced).
    """
    target = target_name(function)
    with tempfile.TemporaryDirectory(prefix="tflint-child-") as folder:
        request = Path(folder) / "request.pickle"
        response = Path(folder) / "response.pickle"
        request.write_bytes(pickle.dumps((target, args, kwargs)))
        command = [sys.executable, "-m", "tflint.isolation", str(request), str(response)]
        child_env = dict(os.environ if env is None else env)
        child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        try:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, env=child_env, text=True,
                                    errors="replace", start_new_session=True)
        except OSError as exc:
            return Outcome(error=f"{what} could not start: {exc.strerror or exc}")
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            return Outcome(error=f"{what} timed out after {timeout:g} s")
        tail = "\n".join(stderr.strip().splitlines()[-STDERR_TAIL:])
        if proc.returncode < 0:
            return Outcome(error=f"{what} crashed ({signal_name(-proc.returncode)})", detail=tail)
        if not response.exists():
            return Outcome(error=f"{what} exited with status {proc.returncode} without a result",
                           detail=tail)
        status, payload = pickle.loads(response.read_bytes())
    if status == "ok":
        return Outcome(value=payload)
    kind, message, trace = payload
    first = next((line.strip() for line in message.splitlines() if line.strip()), "")
    return Outcome(error=f"{what} failed: {kind}: {first}" if first else f"{what} failed: {kind}",
                   detail=message.strip() or trace)


def signal_name(number: int) -> str:
    """``SIGSEGV`` for 11; the number itself for a signal Python does not name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill the child and whatever it started (the converter spawns no helpers, but may)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (AttributeError, ProcessLookupError, PermissionError):
        proc.kill()


def _child(request: str, response: str) -> int:
    target, args, kwargs = pickle.loads(Path(request).read_bytes())
    module_name, _, qualname = target.partition(":")
    try:
        function: Any = import_module(module_name)
        for part in qualname.split("."):
            function = getattr(function, part)
        result = ("ok", function(*args, **kwargs))
    except BaseException as exc:  # everything the function raises goes back to the parent
        result = ("error", (type(exc).__name__, str(exc), traceback.format_exc()))
    try:
        data = pickle.dumps(result)
    except Exception as exc:  # a result the parent could not receive is a failure too
        data = pickle.dumps(("error", (type(exc).__name__, f"cannot send the result: {exc}", "")))
    Path(response).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1], sys.argv[2]))
