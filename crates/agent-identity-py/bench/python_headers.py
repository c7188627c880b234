"""python_headers: `identity.headers()` from Python, against a bare Ed25519 signature of the same
message with the `cryptography` package, measured in the same run.

Both closures run in interleaved batches and the median per-call time of each is kept, the way
the Rust benches measure (tests/src/bench.rs). Prints the JSON result line `cargo xtask bench`
collects. Run by `cargo xtask bench` in target/python-venv with a release build installed.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from typing import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent_identity_sdk import Identity
from agent_identity_sdk.testing import Emulator

QUICK = os.environ.get("AGENT_IDENTITY_BENCH_QUICK") == "1"
BATCHES = 15 if QUICK else 41
BATCH_SECONDS = 0.002 if QUICK else 0.01
WARM_UP_SECONDS = 0.05 if QUICK else 0.3
TARGET = 1.5


def calibrate(call: Callable[[], object]) -> int:
    """Warms `call` up and returns how many calls make one batch."""
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < WARM_UP_SECONDS:
        call()
        calls += 1
    per_call = (time.perf_counter() - started) / calls
    return max(1, int(BATCH_SECONDS / per_call))


def batch(call: Callable[[], object], size: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(size):
        call()
    return (time.perf_counter_ns() - started) / size


def measure_pair(ours: Callable[[], object], baseline: Callable[[], object]) -> tuple[float, float]:
    ours_size, baseline_size = calibrate(ours), calibrate(baseline)
    ours_times, baseline_times = [], []
    for _ in range(BATCHES):
        ours_times.append(batch(ours, ours_size))
        baseline_times.append(batch(baseline, baseline_size))
    return statistics.median(ours_times), statistics.median(baseline_times)


def main() -> None:
    with Emulator() as emu, tempfile.TemporaryDirectory() as home:
        identity = Identity.from_env(token=emu.mint().token, **{
            key: value for key, value in {
                "home": home,
                "jwks_url": emu.jwks_url,
                "authapi_base_url": emu.authapi_base_url,
            }.items()
        })
        status = identity.status()
        # The fields an assertion signs: runtime id, task id and a timestamp.
        message = f"{status.runtime_id}:{status.task_id}:2026-01-01T00:00:00Z".encode()
        key = Ed25519PrivateKey.generate()
        ours_ns, baseline_ns = measure_pair(identity.headers, lambda: key.sign(message))
    print(json.dumps({
        "bench": "python_headers",
        "ours_ns": round(ours_ns, 1),
        "baseline": "cryptography_ed25519_sign",
        "baseline_ns": round(baseline_ns, 1),
        "ratio": round(ours_ns / baseline_ns, 3),
        "target": TARGET,
    }, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
