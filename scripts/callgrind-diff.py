#!/usr/bin/env python3
"""Per-call instruction counts by function, from callgrind runs of N1 and N2 calls.

usage: callgrind-diff.py N1 N2 A_N1.out A_N2.out C_N1.out C_N2.out [--inclusive] [--top K]

Prints, per function, (Ir(N2) - Ir(N1)) / (N2 - N1) for (a) and (c) and their difference,
sorted by the difference: where the adapter's extra instructions per call go. Start-up,
client construction and warm-up cancel out because both runs do them once.
"""
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+(?:\*\s+)?(.*?)(?:\s+\[[^\]]*\])?\s*$")


def per_function(path, inclusive):
    out = subprocess.run(
        ["callgrind_annotate", "--threshold=100", "--auto=no",
         "--inclusive=" + ("yes" if inclusive else "no"), path],
        check=True, capture_output=True, text=True).stdout
    counts = {}
    started = False
    for line in out.splitlines():
        if "file:function" in line:
            started = True
            continue
        if not started:
            continue
        m = LINE.match(line)
        if not m:
            continue
        ir = int(m.group(1).replace(",", ""))
        name = m.group(2)
        # Drop the source file: inlined code is attributed to `file:function`; group by
        # function.
        if ":" in name and not name.startswith("<"):
            head, _, tail = name.partition(":")
            if "/" in head or head.startswith("."):
                name = tail
        elif ".rs:" in name or ".S:" in name or ".c:" in name:
            name = name.split(":", 1)[1]
        counts[name] = counts.get(name, 0) + ir
    return counts


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    inclusive = "--inclusive" in sys.argv
    top = 25
    if "--top" in sys.argv:
        top = int(sys.argv[sys.argv.index("--top") + 1])
        args = [a for a in args if a != str(top)]
    n1, n2 = int(args[0]), int(args[1])
    a1, a2, c1, c2 = (per_function(p, inclusive) for p in args[2:6])
    span = n2 - n1
    names = set(a1) | set(a2) | set(c1) | set(c2)
    rows = []
    for n in names:
        a = (a2.get(n, 0) - a1.get(n, 0)) / span
        c = (c2.get(n, 0) - c1.get(n, 0)) / span
        rows.append((c - a, a, c, n))
    rows.sort(reverse=True)
    kind = "inclusive" if inclusive else "self"
    print(f"{kind} instructions per call: (c) - (a), (a), (c), function")
    for d, a, c, n in rows[:top]:
        print(f"{d:10.0f} {a:10.0f} {c:10.0f}  {n[:150]}")
    print("...")
    for d, a, c, n in rows[-5:]:
        print(f"{d:10.0f} {a:10.0f} {c:10.0f}  {n[:150]}")


if __name__ == "__main__":
    main()
