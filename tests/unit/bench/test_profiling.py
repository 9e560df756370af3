"""Reading py-spy's folded stacks: self and inclusive samples per function."""

from __future__ import annotations

from bench.profiling import top_functions

FOLDED = """\
main (app.py);loop (app.py);decode (codec.py) 30
main (app.py);loop (app.py);publish (bus.py);write (socket.py) 50
main (app.py);loop (app.py) 20
main (app.py);recurse (app.py);recurse (app.py) 10
not a sample line
"""


def test_self_and_inclusive_samples_per_function() -> None:
    total, rows = top_functions(FOLDED)
    by_name = {name: (own, inclusive) for name, own, inclusive in rows}
    assert total == 110
    assert by_name["main (app.py)"] == (0, 110)
    assert by_name["loop (app.py)"] == (20, 100)
    assert by_name["write (socket.py)"] == (50, 50)
    assert rows[0][0] == "main (app.py)", "most inclusive first"


def test_recursion_counts_once_per_stack() -> None:
    _, rows = top_functions(FOLDED)
    assert ("recurse (app.py)", 10, 10) in rows
