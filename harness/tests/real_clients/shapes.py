"""Field-by-field shape checks of a stand-in's answer against a fixture written from the public
API reference: every fixture field must be present with the same JSON type; objects and the
first element of lists are checked recursively; a fixture map with the key "*" (maps keyed by
group, task or meta names) requires that shape of every entry. A null answer is accepted where Go (Nomad) or
Python (OpenStack) would encode an absent pointer, map or list: fixture objects and lists."""

import json
import os

FIXTURES = os.environ["HRSI_FIXTURES"]


def load(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


def _kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    return "object"


def check(got, want, where):
    """Raises AssertionError naming the first field that differs."""
    wk, gk = _kind(want), _kind(got)
    if wk == "null":
        return
    if gk == "null" and wk in ("object", "list"):
        return
    assert wk == gk, f"{where}: expected {wk}, got {gk} ({json.dumps(got)[:120]})"
    if wk == "object" and "*" in want:
        for k, v in got.items():
            check(v, want["*"], f"{where}[{k!r}]")
    elif wk == "object":
        for k, v in want.items():
            assert k in got, f"{where}: missing field {k!r} (has {sorted(got)[:40]})"
            check(got[k], v, f"{where}.{k}")
    elif wk == "list" and want and got:
        check(got[0], want[0], f"{where}[0]")


def shape(got, fixture, where=None):
    check(got, load(fixture), where or fixture)
    return got
