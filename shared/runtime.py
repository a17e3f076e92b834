"""Process-wide runtime settings both services start with."""

import gc


def tune_garbage_collection() -> None:
    """Fewer, cheaper cyclic collections. A service allocates many short-lived objects per request and
    message, which reference counting frees; at CPython's default threshold (700) the cyclic collector
    still runs hundreds of times a second, and its older generations rescan every module and class
    loaded at start-up. Those are frozen (never scanned again) and young collections made rarer
    (docs/performance.md has what that did to read latency)."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 100)
