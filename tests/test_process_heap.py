"""After warm start a process freezes its heap: the collector's full passes skip the model,
and a model the process lets go of (after an activation) is still freed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

# In a process of its own: a freeze here would stay in force for the rest of the suite.
SCRIPT = textwrap.dedent(
    """
    import gc, weakref
    from credscope_site.process_heap import heap_freeze

    class Node:
        pass

    def cycle():
        a, b = Node(), Node()
        a.other, b.other = b, a
        return a

    garbage = cycle()
    before = weakref.ref(garbage)
    del garbage
    model = cycle()  # what warm start leaves alive
    held = weakref.ref(model)
    assert heap_freeze() > 0
    assert before() is None, "garbage left from before the freeze was not collected first"

    del model  # as when an activation replaces the model: only its cycle holds it now
    gc.collect()
    assert held() is not None, "a full collection walked the frozen heap"
    heap_freeze()  # the next activation's freeze
    assert held() is None, "the released model's cycle was never freed"
    print("ok")
    """
)


def test_a_frozen_heap_is_skipped_by_collections_and_freed_at_the_next_freeze() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
