"""What asset checks share: a few examples of what failed, printed compactly."""

EXAMPLES_SHOWN = 10


def examples(rows) -> str:
    """Up to EXAMPLES_SHOWN rows, each as space-separated values, joined by '; '."""
    return "; ".join(" ".join(str(v) for v in r) for r in rows[:EXAMPLES_SHOWN])
