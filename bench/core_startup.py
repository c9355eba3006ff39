"""Start-up time of `gentoolkit --help` and `gentoolkit plugins`, and a check that neither imports torch.

    python bench/core_startup.py [repeats]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section  # noqa: E402

PROBE = ("import sys, runpy; sys.argv = ['gentoolkit', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('gentoolkit', run_name='__main__')\nexcept SystemExit:\n    pass\n"
         "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)")


def measure(args: list[str], repeats: int) -> tuple[float, float, bool]:
    times, torch_free = [], True
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        torch_free &= done.stderr.strip().endswith("NO-TORCH")
    return statistics.median(times), min(times), torch_free


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    baseline = statistics.median(
        [_time([sys.executable, "-c", "pass"]) for _ in range(repeats)])
    rows = ["| command | median (s) | best (s) | imports torch |", "|---|---|---|---|",
            f"| `python -c pass` (interpreter floor) | {baseline:.3f} | | |"]
    for args in (["--help"], ["plugins"], ["models"]):
        median, best, torch_free = measure(args, repeats)
        rows.append(f"| `gentoolkit {' '.join(args)}` | {median:.3f} | {best:.3f} | {'no' if torch_free else 'YES'} |")
    body = "\n".join(rows) + f"\n\n{repeats} runs each, every built-in plugin installed."
    print(body)
    write_section("core start-up", "python bench/core_startup.py", body)


def _time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
