"""The paper benchmark's time, as a markdown table, from a run's results.json.

    /usr/bin/python3 benchmarks/paper/timing.py [benchmarks/paper/out/results.json]

benchmarks/run.sh puts it in benchmarks/results.md: per model and profile, the wall time of
benchmarks/paper/run.sh's sweep and how much of it dpcc's compiles, dprun's scoring runs and
the learned baseline (learned.py) took, summed from each schedule's record. Prints a line saying so when there is no results.json.
"""
import json
import os
import sys
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))


def main(path):
    if not os.path.isfile(path):
        print(f"No paper benchmark run ({path} is missing): `bash benchmarks/paper/run.sh`.")
        return 0
    with open(path) as f:
        results = json.load(f)
    stamp = os.path.getmtime(path)
    rows, total = [], 0
    for name, entry in results.get("models", {}).items():
        for profile, r in entry.get("profiles", {}).items():
            points = r.get("points", [])
            compile_s = sum(p.get("compile_s", 0) for p in points)
            run_s = sum(p.get("run_s", 0) for p in points)
            learned_s = sum(p["learned"]["wall_s"] for p in points if "learned" in p)
            rows.append(f"| {name} | {profile} | {r['seconds']} | {compile_s:.0f} | {run_s:.0f} | "
                        f"{learned_s:.0f} | {len(points)} |")
            total += r["seconds"]
    when = datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"The last run's results.json ({when}; a partial rerun keeps the other models' "
          f"figures): {total / 60:.1f} minutes of sweeps in all, without the one-off training.")
    print()
    print("| model | profile | wall s | dpcc compiles s | dprun runs s | learned.py s | schedules |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "out", "results.json")))
