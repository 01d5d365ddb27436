"""Timing shared by the torch baselines (bench/compare_torch.py and bench/torch_<section>.py)."""
import time


def rate(fn, items, min_time, rounds=1):
    """Items per second of fn(): one warm-up call outside the timing (allocations, first
    touch), then `rounds` timed runs of at least min_time seconds and 3 calls; the best one."""
    fn()
    best = 0.0
    for _ in range(rounds):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time and calls >= 3:
                break
        best = max(best, items * calls / elapsed)
    return best
