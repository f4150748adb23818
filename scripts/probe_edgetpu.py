"""Derive what the Edge TPU compiler mapped from compiled model pairs, and check tflint against it.

Each pair is ``X.tflite`` (the quantized model given to the compiler) and
``X_edgetpu.tflite`` (its output).  In the output, the mapped ops are replaced
by ``edgetpu-custom-op`` custom ops; an op the compiler left on the CPU is still
there, with the same type and the same output tensor names.  So an op of
``X.tflite`` ran on the CPU exactly when such an op remains, and the number of
``edgetpu-custom-op`` ops is the number of Edge TPU segments.

    python scripts/probe_edgetpu.py            # write fixtures/probe_edgetpu/manifest.json
    python scripts/probe_edgetpu.py --check    # compare tflint's prediction with the manifest

The compiler itself runs only on x86-64 Debian with Coral's apt repository; the
pairs (Coral's public test data) stand in for running it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAIRS_DIR = ROOT.parent / "shared" / "edgetpu_pairs"
MANIFEST = ROOT / "fixtures" / "probe_edgetpu" / "manifest.json"
CUSTOM_OP = "edgetpu-custom-op"
COMPILED_SUFFIX = "_edgetpu.tflite"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pair_names(pairs_dir: Path = PAIRS_DIR) -> list[str]:
    """Stems ``X`` having both ``X.tflite`` and ``X_edgetpu.tflite``."""
    return sorted(path.name.removesuffix(COMPILED_SUFFIX)
                  for path in pairs_dir.glob(f"*{COMPILED_SUFFIX}")
                  if (pairs_dir / (path.name.removesuffix(COMPILED_SUFFIX) + ".tflite")).exists())


def derive_pair(stem: str, pairs_dir: Path = PAIRS_DIR) -> dict[str, Any]:
    """What the compiler did with ``stem``.tflite, read from the compiled file."""
    from tflint.loaders import load

    model_path = pairs_dir / f"{stem}.tflite"
    compiled_path = pairs_dir / f"{stem}{COMPILED_SUFFIX}"
    model, compiled = load(str(model_path)), load(str(compiled_path))
    remaining = {(n.op_type, tuple(t.name for t in n.outputs))
                 for n in compiled.nodes() if n.op_type != CUSTOM_OP}
    cpu_ops = [{"subgraph": n.subgraph, "index": n.location.op_index, "op": n.op_type,
                "outputs": [t.name for t in n.outputs]}
               for n in model.nodes()
               if (n.op_type, tuple(t.name for t in n.outputs)) in remaining]
    segments = sum(1 for n in compiled.nodes() if n.op_type == CUSTOM_OP)
    return {
        "model": model_path.name,
        "compiled": compiled_path.name,
        "sha256": {"model": sha256(model_path), "compiled": sha256(compiled_path)},
        "ops": len(model),
        "mapped": len(model) - len(cpu_ops),
        "edgetpu_segments": segments,
        "cpu_ops": cpu_ops,
    }


def derive_manifest(pairs_dir: Path = PAIRS_DIR) -> dict[str, Any]:
    return {
        "description": ("What the Edge TPU compiler mapped in each compiled pair: the ops left "
                        "on the CPU (by op index in the input model) and the number of "
                        "edgetpu-custom-op segments. Derived by scripts/probe_edgetpu.py."),
        "source": ("google-coral/test_data at commit 104342d (Apache-2.0), read from "
                   "../shared/edgetpu_pairs relative to the repository root"),
        "pairs": [derive_pair(stem, pairs_dir) for stem in pair_names(pairs_dir)],
    }


def load_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        manifest: dict[str, Any] = json.load(handle)
    return manifest


def predicted(entry: dict[str, Any], pairs_dir: Path = PAIRS_DIR) -> dict[str, Any]:
    """tflint's prediction for one pair's input model, in the manifest's terms."""
    from tflint.analyses.delegation import predict_delegation
    from tflint.loaders import load

    graph = load(str(pairs_dir / entry["model"]))
    delegation = predict_delegation(graph, "edgetpu")
    cpu = sorted((op.subgraph, op.index, op.op) for op in delegation.cpu_ops(graph))
    return {"cpu_ops": cpu, "edgetpu_segments": delegation.partition_count,
            "refused": delegation.refused, "delegation": delegation, "graph": graph}


def disagreements(entry: dict[str, Any], pairs_dir: Path = PAIRS_DIR) -> list[str]:
    """Every way tflint's prediction differs from the compiler's result for one pair."""
    guess = predicted(entry, pairs_dir)
    truth = sorted((op["subgraph"], op["index"], op["op"]) for op in entry["cpu_ops"])
    problems = []
    if guess["refused"]:
        problems.append(f"{entry['model']}: predicted refused ({guess['refused']}), "
                        "but the compiler mapped it")
    for extra in sorted(set(guess["cpu_ops"]) - set(truth)):
        reason = guess["delegation"].cpu_reasons.get(f"{extra[0]}:{extra[1]}", "")
        problems.append(f"{entry['model']}: op {extra[1]} {extra[2]} predicted on the CPU "
                        f"({reason}), but the compiler mapped it")
    for missing in sorted(set(truth) - set(guess["cpu_ops"])):
        problems.append(f"{entry['model']}: op {missing[1]} {missing[2]} predicted mapped, but "
                        "the compiler left it on the CPU")
    if guess["edgetpu_segments"] != entry["edgetpu_segments"]:
        problems.append(f"{entry['model']}: {guess['edgetpu_segments']} Edge TPU segments "
                        f"predicted, the compiler made {entry['edgetpu_segments']}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare tflint's prediction with the manifest (and the manifest "
                             "with the pairs) instead of writing it")
    parser.add_argument("--pairs", type=Path, default=PAIRS_DIR, help="folder of the pairs")
    args = parser.parse_args(argv)
    if not args.pairs.is_dir():
        print(f"{args.pairs}: error: no such folder of compiled pairs", file=sys.stderr)
        return 2
    if not args.check:
        manifest = derive_manifest(args.pairs)
        MANIFEST.parent.mkdir(parents=True, exist_ok=True)
        MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {MANIFEST.relative_to(ROOT)}: {len(manifest['pairs'])} pairs")
        return 0
    manifest = load_manifest()
    problems = []
    if derive_manifest(args.pairs)["pairs"] != manifest["pairs"]:
        problems.append("the manifest no longer matches the pairs: rerun without --check")
    for entry in manifest["pairs"]:
        problems += disagreements(entry, args.pairs)
    for line in problems:
        print(line)
    exact = len(manifest["pairs"]) - len({p.split(":")[0] for p in problems})
    print(f"{exact}/{len(manifest['pairs'])} pairs exact")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
