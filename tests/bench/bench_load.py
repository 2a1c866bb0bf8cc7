"""Benchmark: how fast ``load_manifests`` reads and validates a large manifests directory.

Not a test (no assertions, not collected by pytest). It writes FILES x DOCS realistic spec
documents (default 100 x 100 = 10,000, each with ratings and four components in mixed unit
spellings) to a temporary directory, then times:

- ``load_manifests``: the whole pipeline (scan, parse, validate, cross-file checks);
- a baseline: ruamel.yaml's fastest loader, ``YAML(typ="safe", pure=False).load_all``, on the
  same files (only parses; libyaml when ruamel.yaml.clib is installed);
- with ``--slow``, also ruamel's pure-Python safe loader and its round-trip loader.

    .venv/bin/python tests/bench/bench_load.py [--files 100] [--docs 100] [--slow]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML

from reconciler import yaml_source
from reconciler.manifests import load_manifests

DOCUMENT = """\
name: Bench Cell {number}
form_factor: "21700"
manufacturer: Bench Cells Ltd
ratings:
  capacity: {{value: {capacity}, unit: A*h}}
  voltage_min: {{value: 2500, unit: mV}}
  voltage_max: {{value: 4.2, unit: V}}
  nominal_voltage: {{value: 3.63, unit: V}}
  energy: {{value: 18.2, unit: W.h}}
  energy_density_gravimetric: {{value: 263, unit: W*h/kg}}
  max_charge_rate: {{value: 0.7, unit: C}}
  max_discharge_rate: {{value: 1.5, unit: C}}
properties:
  assembly_method: wound
  mass: {{value: 69.25, unit: g}}
  diameter: {{value: 21.1, unit: mm}}
anode:
  properties:
    coating_thickness: {{value: 85.2, unit: um}}
    loading: {{value: 14.5, unit: mg/cm**2}}
    porosity: {{value: 25, unit: percent}}
    binder: PVDF
  material:
    name: Graphite-SiOx
    manufacturer: Bench Materials
    definition:
      type: graphite
      particle_size_d50: {{value: 15, unit: um}}
      specific_capacity: {{value: 360, unit: mA.h.g-1}}
cathode:
  properties:
    coating_thickness: {{value: 75.6, unit: um}}
    loading: {{value: 22.1, unit: mg.cm-2}}
  material:
    name: NMC811
    manufacturer: Bench Materials
    definition:
      formula: LiNi0.8Mn0.1Co0.1O2
      particle_size_d50: {{value: 10, unit: um}}
electrolyte:
  properties:
    volume: {{value: 5000, unit: uL}}
  material:
    name: LP57
    definition:
      salt: LiPF6
      concentration: {{value: 1.0, unit: mol.L-1}}
      solvents: [EC, EMC]
separator:
  properties:
    thickness: {{value: 12, unit: um}}
  material:
    name: PE
notes: generated document {number}
"""


def write_manifests(root: Path, files: int, docs: int) -> int:
    for file_number in range(files):
        documents = [
            DOCUMENT.format(number=file_number * docs + i, capacity=4.5 + (i % 10) / 10)
            for i in range(docs)
        ]
        (root / f"cells-{file_number:04}.yaml").write_text("---\n".join(documents), "utf-8")
    return files * docs


def timed(label: str, count: int, action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    print(f"{label:<44} {seconds:8.2f} s  {count / seconds:9.0f} docs/s")
    return seconds


def ruamel_load_all(root: Path, yaml: YAML) -> None:
    for path in sorted(root.glob("*.yaml")):
        for _ in yaml.load_all(path.read_text("utf-8")):
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--docs", type=int, default=100, help="documents per file")
    parser.add_argument("--slow", action="store_true", help="also time the pure-Python loaders")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
        root = Path(folder)
        count = write_manifests(root, args.files, args.docs)
        size = sum(p.stat().st_size for p in root.glob("*.yaml")) / 2**20
        parser_name = "libyaml" if yaml_source.CParser is not None else "pure Python"
        print(f"{count} documents in {args.files} files, {size:.1f} MiB; parser: {parser_name}")
        loaded = load_manifests(root)
        assert len(loaded.specs) == count  # a warm-up run that also checks the data is valid
        ours = timed("load_manifests (parse + validate)", count, lambda: load_manifests(root))
        fast = YAML(typ="safe", pure=False)
        base = timed(
            "ruamel YAML(typ='safe', pure=False)", count, lambda: ruamel_load_all(root, fast)
        )
        print(f"load_manifests / fastest ruamel loader: {ours / base:.2f}x")
        if args.slow:
            pure = YAML(typ="safe", pure=True)
            timed("ruamel YAML(typ='safe', pure=True)", count, lambda: ruamel_load_all(root, pure))
            timed("ruamel YAML() round-trip", count, lambda: ruamel_load_all(root, YAML()))


if __name__ == "__main__":
    main()
