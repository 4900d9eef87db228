"""The JetStream stream the bus writes: created when absent, refused when it would not de-duplicate.

De-duplication is the point of the bus (several recorders, each event once), and JetStream does it
with ``Nats-Msg-Id`` inside the stream's duplicate window only. So an existing stream is checked
before anything is published (``stream_problems``, pure): a duplicate window of 0 or shorter than
asked, subjects that do not cover ``kalshi.<env>.>``, a mirror or a sealed stream are refused with
one line naming the setting. Replicas and retention of an existing stream are left as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kalshi_cli.bus.subjects import ROOT, encode_token
from kalshi_cli.bus.target import BusTarget
from kalshi_cli.errors import ConnectionFailed, UsageError

__all__ = [
    "RETENTIONS",
    "StreamSpec",
    "ensure_stream",
    "format_duration",
    "parse_duration",
    "stream_info",
    "stream_problems",
    "subject_covers",
]

RETENTIONS = ("limits", "interest", "workqueue")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str, option: str) -> float:
    """``90s``, ``2m``, ``1h30m``, ``7d`` -> seconds (``0`` is allowed: no limit, where that means one)."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(compact)
    if compact == "0":
        return 0.0
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise UsageError(f"{option} expects a duration like 2m, 90s, 1h, 7d; got {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def format_duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class StreamSpec:
    """What ``record --sink`` asks of its stream (the defaults are ``record``'s option defaults)."""

    subjects: tuple[str, ...] = (f"{ROOT}.>",)
    retention: str = "limits"
    replicas: int = 1
    duplicate_window: float = 120.0  # seconds: how far apart two recorders' copies may be
    max_age: float = 0.0  # seconds a message is kept (0: until removed)
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if self.retention not in RETENTIONS:
            raise UsageError(f"--sink-retention expects one of {', '.join(RETENTIONS)}; got {self.retention!r}")
        if not 1 <= self.replicas <= 5:
            raise UsageError(f"--sink-replicas expects 1 to 5; got {self.replicas}")
        if self.duplicate_window <= 0:
            raise UsageError("--sink-dedup-window must be more than 0: without it nothing is de-duplicated")
        for subject in self.subjects:
            tokens = subject.split(".")
            if not subject or any(not t or " " in t for t in tokens) or ">" in tokens[:-1]:
                raise UsageError(f"--sink-subjects: {subject!r} is not a NATS subject")


def _matches(pattern: list[str], subject: list[str]) -> bool:
    """Does the subject pattern ``pattern`` match every subject of the (possibly wild) ``subject``?"""
    for i, token in enumerate(pattern):
        if token == ">":
            return len(subject) > i
        if i >= len(subject):
            return False
        have = subject[i]
        if have == ">":
            return False
        if token != "*" and (token != have or have == "*"):
            return False
    return len(pattern) == len(subject)


def subject_covers(patterns: list[str] | tuple[str, ...], subject: str) -> bool:
    """True if one of the stream's ``patterns`` holds every subject ``subject`` stands for."""
    want = subject.split(".")
    return any(_matches(p.split("."), want) for p in patterns)


def stream_problems(config: Any, spec: StreamSpec, env: str) -> list[str]:
    """What in an existing stream's ``config`` (nats-py ``StreamConfig``) would break the bus."""
    problems = []
    window = float(config.duplicate_window or 0)
    if window <= 0:
        problems.append("its duplicate window is 0, so nothing is de-duplicated")
    elif window + 1e-9 < spec.duplicate_window:
        problems.append(
            f"its duplicate window ({format_duration(window)}) is shorter than "
            f"--sink-dedup-window ({format_duration(spec.duplicate_window)})"
        )
    ours = f"{ROOT}.{encode_token(env)}.*.*"
    if not subject_covers(list(config.subjects or []), ours):
        problems.append(f"its subjects ({', '.join(config.subjects or []) or 'none'}) do not include {ours}")
    if config.mirror is not None:
        problems.append("it is a mirror (it takes no direct publishes)")
    if config.sealed:
        problems.append("it is sealed")
    if getattr(config, "no_ack", False):
        problems.append("it does not acknowledge publishes (no_ack)")
    return problems


def _api_failure(exc: BaseException, target: BusTarget) -> UsageError | ConnectionFailed:
    from nats import errors as nats_errors
    from nats.js import errors as js_errors

    if isinstance(exc, js_errors.ServiceUnavailableError | nats_errors.NoRespondersError):
        return UsageError(f"NATS {target.display}: JetStream is not enabled on that server (start it with -js)")
    if isinstance(exc, nats_errors.TimeoutError | TimeoutError):
        return ConnectionFailed(f"NATS {target.display}: JetStream did not answer in time")
    desc = getattr(exc, "description", None) or str(exc) or type(exc).__name__
    if "overlap" in desc:
        desc += " (another stream holds these subjects: name that stream in the URL, or give --sink-subjects)"
    return UsageError(f"NATS {target.display}: stream {target.stream}: {desc}")


async def stream_info(js: Any, target: BusTarget) -> Any:
    """The stream's info, or one line: it does not exist, or JetStream is off."""
    from nats.js import errors as js_errors

    try:
        return await js.stream_info(target.stream)
    except js_errors.NotFoundError:
        raise UsageError(
            f"NATS {target.display}: no stream {target.stream} (it is made by 'kalshi record --sink')"
        ) from None
    except Exception as exc:
        raise _api_failure(exc, target) from None


async def ensure_stream(js: Any, target: BusTarget, spec: StreamSpec, env: str) -> bool:
    """Create the stream if absent (True) or check the existing one (False).

    Raises:
        UsageError: the existing stream would break de-duplication, or creating it failed
            (e.g. more replicas than the cluster has servers).
    """
    from nats.js import api
    from nats.js import errors as js_errors

    try:
        info = await js.stream_info(target.stream)
    except js_errors.NotFoundError:
        info = None
    except Exception as exc:
        raise _api_failure(exc, target) from None
    if info is not None:
        problems = stream_problems(info.config, spec, env)
        if problems:
            raise UsageError(
                f"NATS {target.display}: stream {target.stream} would break de-duplication: "
                f"{'; '.join(problems)} (fix it with 'nats stream edit', or name another stream)"
            )
        return False
    config = api.StreamConfig(
        name=target.stream,
        subjects=list(spec.subjects),
        retention=api.RetentionPolicy(spec.retention),
        num_replicas=spec.replicas,
        duplicate_window=spec.duplicate_window,
        max_age=spec.max_age or None,
        storage=api.StorageType.FILE,
        allow_direct=True,  # book --from finds each market's latest snapshot with direct get (bookstart)
        **spec.extra,
    )
    try:
        await js.add_stream(config)
    except js_errors.BadRequestError as exc:
        if getattr(exc, "err_code", None) == 10058:  # created meanwhile by another recorder
            return await ensure_stream(js, target, spec, env)
        raise _api_failure(exc, target) from None
    except Exception as exc:
        raise _api_failure(exc, target) from None
    return True
