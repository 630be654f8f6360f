"""`make bench` (start-up part): how long the command line takes before it does anything.

Measures, each as a whole fresh process (`python -m factory ...` as `.venv/bin/docfactory`
runs it), ``--repeat`` times (default 7), the median wall time and the median CPU time (user +
system, from the children's rusage: steadier than wall time on a shared machine):

  1. ``docfactory --help``                         (target <= 0.2 s)
  2. ``docfactory runs``   on an index with one run (target <= 0.4 s)
  3. ``docfactory status RUN_ID``                   (target <= 0.4 s)
  4. ``docfactory run`` with nothing to do: the one record of the run above, already archived

The index and archive live in a temporary folder (var/bench/startup); the run of 4 is made once
beforehand with the inline executor. ``--python PATH`` measures another checkout's interpreter
(its own project root is taken from PATH/../../), to put a before beside an after.

Python's bytecode cache is on, as on an installed machine: the children run without
PYTHONDONTWRITEBYTECODE (which a sandbox or CI may set: then every start compiles every module
of factory/ again, ~0.06 CPU s for `runs`), with the caches under var/bench/startup-pycache
(PYTHONPYCACHEPREFIX: no __pycache__ written into either checkout), filled by the warm-up run.
``--no-bytecode-cache`` measures with the caller's environment as it is.
Prints the table with the load average, and writes var/bench/startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="Keep PYTHONDONTWRITEBYTECODE and PYTHONPYCACHEPREFIX as they are.")
    args = parser.parse_args()
    python = Path(args.python)
    root = python.absolute().parents[2] if args.python != sys.executable else REPO
    if not (root / "factory").is_dir():
        root = REPO
    work = REPO / "var" / "bench" / "startup"
    shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True)
    index = f"sqlite:///{work / 'index.db'}"
    archive = f"file://{work / 'archive'}"
    env = {**os.environ, "FACTORY_HOME": str(root), "FACTORY_INDEX_URL": index,
           "FACTORY_ARCHIVE_URL": archive, "FACTORY_VAR": str(work / "var")}
    if not args.no_bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work.parent / "startup-pycache" / _slug(root))
    base = [str(python), "-m", "factory"]
    subprocess.run([*base, "sample-data", "--customers", "1", "--out", str(work / "data"),
                    "--period", "2026-11", "--format", "jsonl"],
                   env=env, cwd=root, check=True, capture_output=True)
    job = _job(root, work)
    run = [*base, "-q", "run", str(job), "--period", "2026-11", "--executor", "inline",
           "--issued", "2026-12-01"]
    subprocess.run(run, env=env, cwd=root, check=True, capture_output=True)
    listed = subprocess.run([*base, "runs"], env=env, cwd=root, check=True,
                            capture_output=True, text=True).stdout
    run_id = next(word for word in listed.split() if word.startswith("20") and "-" in word)
    cases = {
        "docfactory --help": [*base, "--help"],
        "docfactory runs": [*base, "runs"],
        "docfactory status RUN_ID": [*base, "status", run_id],
        "docfactory run (nothing to do)": run,
    }
    load = os.getloadavg()
    results = {}
    for name, command in cases.items():
        timed(command, env, root)  # warm the page cache
        samples = [timed(command, env, root) for _ in range(args.repeat)]
        results[name] = {"wall_s": statistics.median(s[0] for s in samples),
                         "cpu_s": statistics.median(s[1] for s in samples),
                         "samples": samples}
    cache = "off" if args.no_bytecode_cache else "on"
    print(f"Start-up ({root}, bytecode cache {cache}, median of {args.repeat}; load average"
          f" {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} before, {os.getloadavg()[0]:.2f}"
          " after)")
    print(f"  {'command':34} {'wall s':>8} {'CPU s':>8}")
    for name, result in results.items():
        print(f"  {name:34} {result['wall_s']:8.3f} {result['cpu_s']:8.3f}")
    out = REPO / "var" / "bench" / "startup.json"
    out.write_text(json.dumps({"root": str(root), "bytecode_cache": cache, "load": load,
                               "results": results}, indent=1))


def _slug(root: Path) -> str:
    """A folder name for ``root``'s bytecode caches: one per checkout measured."""
    return str(root.absolute()).strip("/").replace("/", "+")


def _job(root: Path, work: Path) -> Path:
    """The shipped statement job reading the one generated customer."""
    import tomllib

    text = (root / "jobs" / "monthly_statements.toml").read_text(encoding="utf-8")
    spec = tomllib.loads(text)
    # Replace only the [source] table: the rest of the job stays as shipped.
    out, skipping = [], False
    for line in text.splitlines():
        if line.strip().startswith("["):
            skipping = line.strip() in ("[source]", "[source.items]")
        if not skipping:
            out.append(line)
    assert "source" in spec
    out += ["", "[source]", 'type = "jsonl"', f'path = "{work / "data" / "customers.jsonl"}"']
    path = work / "job.toml"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    main()
