"""How closely tflint's Ethos-U prediction matches Arm's Vela compiler, and how much faster it is.

    python bench/bench_ethosu.py                      # zoo (int8 and float32) + probe models
    python bench/bench_ethosu.py --configs ethos-u55-128,ethos-u85-256,ethos-u65-512

For every model and accelerator configuration, Vela 5.2.0 compiles the model
(in child processes, see ``scripts/vela_runner.py``) and tflint predicts it.
Printed: the date, per configuration the share of ops placed as Vela places
them (NPU or CPU), the share of models whose NPU partition count is exact,
the disagreements, and the time per model of tflint (load + prediction) and
of Vela (compilation only, without its start-up).  Models come from
``bench/.cache/tflite_zoo`` (``python bench/tflite_zoo.py``) and
``fixtures/probe_ethosu`` (``python scripts/probe_ethosu.py``).
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from vela_runner import run_vela, vela_version  # noqa: E402

ZOO = ROOT / "bench" / ".cache" / "tflite_zoo"
PROBES = ROOT / "fixtures" / "probe_ethosu"


def predict(path: Path, config: str) -> tuple[list[bool], int, float, bool]:
    """tflint's placement (NPU flags in op order), partition count, seconds, refused."""
    from tflint.analyses.delegation import predict_delegation
    from tflint.loaders.tflite import load_tflite

    started = time.perf_counter()
    graph = load_tflite(str(path))
    delegation = predict_delegation(graph, config)
    seconds = time.perf_counter() - started
    flags = [node.id not in delegation.cpu_reasons for node in graph.nodes()]
    return flags, delegation.partition_count, seconds, delegation.refused is not None


def mlia_placement(mlia: Path, path: Path, config: str) -> tuple[list[bool], float] | None:
    """MLIA's placement (NPU flags by operator index) and its wall time, or None."""
    import json
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        proc = subprocess.run([str(mlia), "check", str(path), "-t", config, "--compatibility",
                               "--json", "--noninteractive", "--out-dir", out],
                              capture_output=True, text=True, timeout=600)
        seconds = time.perf_counter() - started
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return None
    placed: dict[int, bool] = {}

    def walk(item: object) -> None:
        if isinstance(item, dict):
            if item.get("kind") == "source_operator":
                attributes = item.get("attributes", {})
                if attributes.get("subgraph_index", 0) == 0:
                    placed[attributes["operator_index"]] = item.get("placement") == "NPU"
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(report)
    return [placed.get(i, False) for i in range(len(placed))], seconds


def compare_mlia(mlia: Path, paths: list[Path], configs: list[str],
                 truth: dict[tuple[Path, str], dict]) -> None:
    """MLIA's compatibility check (its Vela backend) against Vela's compiled output."""
    for config in configs:
        ops = agree = 0
        times: list[float] = []
        for path in paths:
            seen = truth[(path, config)]
            result = mlia_placement(mlia, path, config)
            if "error" in seen or result is None:
                continue
            flags, seconds = result
            vela_flags = [op["npu"] for op in seen["ops"] if op["subgraph"] == 0]
            if len(flags) != len(vela_flags):
                continue
            times.append(seconds)
            ops += len(flags)
            agree += sum(a == b for a, b in zip(flags, vela_flags, strict=True))
        if ops:
            print(f"\n[mlia] {config}: {len(times)} models, ops placed as Vela places them "
                  f"{agree}/{ops} = {agree / ops:.2%}, median {statistics.median(times):.2f} s "
                  "per model (process included)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="ethos-u55-128,ethos-u85-256")
    parser.add_argument("--no-probes", action="store_true", help="zoo models only")
    parser.add_argument("--mlia", type=Path, help="also compare Arm's MLIA (path to its mlia "
                        "command, e.g. /work/venvs/mlia/bin/mlia) on the zoo models")
    args = parser.parse_args(argv)
    configs = args.configs.split(",")
    zoo = sorted(p for p in ZOO.glob("*.tflite")
                 if p.stem.endswith(("_int8", "_float32")) or "_" not in p.stem)
    probes = [] if args.no_probes else sorted(PROBES.glob("*.tflite"))
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"{vela_version()}; {len(zoo)} zoo models, {len(probes)} probe models")
    if not zoo:
        print("no zoo models: run python bench/tflite_zoo.py first")
    truth = run_vela([(p, c) for p in zoo + probes for c in configs])
    for group, paths in (("zoo", zoo), ("probes", probes)):
        if not paths:
            continue
        for config in configs:
            ops = agree = models = exact = failed = refused = 0
            ours: list[float] = []
            theirs: list[float] = []
            misses: list[str] = []
            for path in paths:
                seen = truth[(path, config)]
                if "error" in seen:
                    failed += 1
                    misses.append(f"{path.name}: Vela failed: {seen['error'][:120]}")
                    continue
                flags, partitions, seconds, was_refused = predict(path, config)
                refused += was_refused
                vela_flags = [op["npu"] for op in seen["ops"]]
                ours.append(seconds)
                theirs.append(seen["seconds"])
                models += 1
                ops += len(flags)
                matched = sum(a == b for a, b in zip(flags, vela_flags, strict=True))
                agree += matched
                exact += partitions == seen["partitions"]
                if matched != len(flags) or partitions != seen["partitions"]:
                    misses.append(f"{path.name}: {len(flags) - matched} ops differ, "
                                  f"partitions {partitions} vs Vela {seen['partitions']}")
            if not models:
                continue
            print(f"\n[{group}] {config}: {models} models ({failed} Vela could not compile, "
                  f"{refused} refused as float)")
            print(f"  ops placed as Vela places them: {agree}/{ops} = {agree / ops:.2%}")
            print(f"  exact NPU partition count:      {exact}/{models} = {exact / models:.2%}")
            print(f"  time per model: tflint median {statistics.median(ours) * 1000:.1f} ms "
                  f"(mean {statistics.mean(ours) * 1000:.1f}), Vela median "
                  f"{statistics.median(theirs) * 1000:.1f} ms "
                  f"(mean {statistics.mean(theirs) * 1000:.1f}); "
                  f"Vela/tflint total {sum(theirs) / sum(ours):.0f}x")
            for line in misses:
                print(f"  differs: {line}")
    if args.mlia:
        compare_mlia(args.mlia, zoo, configs, truth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
