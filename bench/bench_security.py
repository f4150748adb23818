"""Security scan benchmark: tflint, modelscan and modelaudit on a crafted and a clean corpus.

    python scripts/make_security_corpus.py /tmp/seccorpus      # once
    python bench/bench_security.py /tmp/seccorpus [--scanners /work/venvs/scanners/bin]

For every file of the corpus (its ``manifest.json`` says which security code
must be reported at error severity, or none for a clean file) it runs tflint
(``--select security``, in this process after a warm-up, and timed), and
``modelscan`` and ``modelaudit`` from their own virtualenv when present
(exit code 1: something flagged).  It prints the date, per class the files
each tool flags, the errors on clean files, the harmless Lambdas graded as
warnings, the median and worst time per file, and the files per second of
one ``tflint --select security`` run over a folder of 1,000 files.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import tflint


def tflint_verdicts(folder: Path, manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    config = tflint.Config(select=["security"])
    tflint.lint(folder / next(iter(manifest)), config)  # imports, data files: once
    verdicts = {}
    for name in sorted(manifest):
        started = time.perf_counter()
        [result] = tflint.lint(folder / name, config).files
        elapsed = time.perf_counter() - started
        errors = {d.code for d in result.diagnostics if d.severity.value == "error"}
        warnings = {d.code for d in result.diagnostics if d.severity.value == "warning"}
        verdicts[name] = {"errors": errors, "warnings": warnings, "read_error": result.error,
                          "seconds": elapsed}
    return verdicts


def other_scanner(command: list[str], path: Path) -> tuple[bool | None, float]:
    started = time.perf_counter()
    try:
        run = subprocess.run([*command, str(path)], capture_output=True, text=True,
                             timeout=300, check=False)
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - started
    elapsed = time.perf_counter() - started
    return (True if run.returncode == 1 else False if run.returncode == 0 else None), elapsed


def folder_rate(folder: Path, manifest: dict[str, Any], count: int = 1000) -> float:
    """Files per second of one CLI run over ``count`` corpus files (copies, cycled)."""
    names = sorted(manifest)
    with tempfile.TemporaryDirectory(prefix="tflint-bench-") as scratch:
        for index in range(count):
            source = folder / names[index % len(names)]
            target = Path(scratch) / f"{index:04d}_{source.name}"
            try:
                os.link(source, target)
            except OSError:
                shutil.copy(source, target)
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-c", "from tflint.cli import main; main()",
                              "--isolated", "--select", "security", "--format", "json",
                              "--exit-zero", scratch], capture_output=True, text=True,
                             check=False, timeout=3600)
        elapsed = time.perf_counter() - started
        linted = len(json.loads(run.stdout)["files"])
        if linted != count:
            raise SystemExit(f"the folder run linted {linted} files of {count}: {run.stderr}")
        return count / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--scanners", type=Path, default=Path("/work/venvs/scanners/bin"))
    parser.add_argument("--skip-others", action="store_true")
    parser.add_argument("--only", action="append", default=[], metavar="TOOL",
                        help="run only these other scanners (modelscan, modelaudit)")
    args = parser.parse_args()
    manifest = json.loads((args.corpus / "manifest.json").read_text())
    print(f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    ours = tflint_verdicts(args.corpus, manifest)
    tools: dict[str, list[str]] = {}
    if not args.skip_others:
        if (args.scanners / "modelscan").exists():
            tools["modelscan"] = [str(args.scanners / "modelscan"), "-p"]
        if (args.scanners / "modelaudit").exists():
            tools["modelaudit"] = [str(args.scanners / "modelaudit"), "scan", "--no-cache",
                                   "-q"]
    if args.only:
        tools = {tool: command for tool, command in tools.items() if tool in args.only}
    others: dict[str, dict[str, tuple[bool | None, float]]] = defaultdict(dict)
    for tool, command in tools.items():
        for name in sorted(manifest):
            others[tool][name] = other_scanner(command, args.corpus / name)

    by_class: dict[str, list[str]] = defaultdict(list)
    for name, item in manifest.items():
        by_class[item["class"]].append(name)
    header = f"{'class':<22}{'files':>6}{'tflint':>9}" + "".join(f"{t:>12}" for t in tools)
    print(header)
    misses = []
    for kind in sorted(by_class):
        names = by_class[kind]
        malicious = any(manifest[n]["code"] for n in names)
        if malicious:
            hit = [n for n in names if manifest[n]["code"] in ours[n]["errors"]]
            misses += [n for n in names if n not in hit]
        else:
            hit = [n for n in names if ours[n]["errors"]]  # false positives
        row = f"{kind:<22}{len(names):>6}{len(hit):>9}"
        for tool in tools:
            flagged = [n for n in names if others[tool][n][0]]
            row += f"{len(flagged):>12}"
        print(row + ("" if malicious else "   (clean: files flagged)"))
    bad = [n for n, item in manifest.items() if item["code"]]
    clean = [n for n, item in manifest.items() if not item["code"]]
    lambdas = [n for n in clean if manifest[n]["class"] == "clean-lambda"]
    print(f"malicious files flagged at error with the right code: "
          f"{len(bad) - len(misses)}/{len(bad)}" + (f" (missed: {', '.join(misses)})"
                                                    if misses else ""))
    print(f"clean files with an error-level finding: "
          f"{sum(1 for n in clean if ours[n]['errors'])}/{len(clean)}")
    print(f"harmless Lambdas graded warning: "
          f"{sum(1 for n in lambdas if 'TFL601' in ours[n]['warnings'])}/{len(lambdas)}")
    for tool in tools:
        flagged = sum(1 for n in bad if others[tool][n][0])
        false = sum(1 for n in clean if others[tool][n][0])
        failed = sum(1 for n in manifest if others[tool][n][0] is None)
        times = [others[tool][n][1] for n in manifest]
        print(f"{tool}: malicious flagged {flagged}/{len(bad)}, clean flagged {false}/"
              f"{len(clean)}, errors/timeouts {failed}, median {statistics.median(times):.2f} s")
    times = sorted(v["seconds"] for v in ours.values())
    print(f"tflint time per file: median {statistics.median(times) * 1000:.0f} ms, "
          f"max {times[-1] * 1000:.0f} ms")
    print(f"tflint --select security over 1,000 files: {folder_rate(args.corpus, manifest):.1f} "
          "files/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
