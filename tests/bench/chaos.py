"""Chaos scenario: creates, updates and prunes through ``ionworks-apply apply`` under faults.

The sandbox injects every fault kind at a fixed rate (seeded); each step (N creates, then M
rating changes, then P prunes with cascades) is applied at most ``max_runs`` times, and after
every run the live state is checked against what may and must be true:

- no two specs share a name, and no name outside the manifests ever appears;
- a spec never changes id (nothing is deleted and re-created), and nothing is deleted that was
  not planned: every spec the step keeps is still there;
- a rating is only ever the old or the new value, and once new it stays new (no lost update);
- the exit code agrees with the report: 0 exactly when no change failed and all converged, and a
  non-zero exit comes with its reason on stderr (never a traceback) and with at least one fault
  in the sandbox's journal for that run;
- every change the report calls applied (or already done) really holds in the live state, and
  no change claims to have undone someone else's write (there is no one else);
- an exit 0 means converged: live state equals the manifests and ``plan --detailed-exitcode``
  (faults off) exits 0.

``tests/test_chaos.py`` runs a small instance in CI; this file run as a script runs the full size
and prints figures::

    .venv/bin/python tests/bench/chaos.py [--creates 500] [--updates 200] [--prunes 50]
        [--cascading 10] [--seeds 1 2 3] [--fault-rate 0.2] [--max-runs 3]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: make ``helpers`` (tests/) importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import Api, spec_doc, write_manifests

from reconciler.sandbox.server import SandboxServer, SandboxSettings

ALL_FAULTS = ("500", "502", "503", "429", "drop", "drop-after-commit", "stall")
STEPS = ("create", "update", "prune")

#: ``(argv) -> (exit code, stdout, stderr)``: the CLI run in-process.
Cli = Callable[[Sequence[str]], tuple[int, str, str]]


@dataclass(frozen=True)
class ChaosConfig:
    """Sizes, fault settings and client settings of one scenario."""

    creates: int = 40
    updates: int = 16
    prunes: int = 5
    cascading: int = 2
    seed: int = 1
    fault_rate: float = 0.2
    stall_seconds: float = 1.0
    timeout: float = 0.5
    concurrency: int = 8
    max_runs: int = 3
    patch_mode: str = "replace"


@dataclass(frozen=True)
class RunRecord:
    """One ``apply`` run: its exit code and what the sandbox journal saw meanwhile."""

    step: str
    run: int
    code: int
    requests: int
    faults: Counter[str]
    failed_changes: int
    seconds: float
    error: str = ""


@dataclass
class ChaosReport:
    config: ChaosConfig
    runs: list[RunRecord] = field(default_factory=list)
    seconds: float = 0.0

    def runs_per_step(self) -> dict[str, int]:
        return {step: sum(1 for r in self.runs if r.step == step) for step in STEPS}

    def faults(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for run in self.runs:
            total.update(run.faults)
        return total

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.runs)


def why(err: str, report: dict[str, Any] | None) -> str:
    """The first reason a run gives for failing: a change's error, or the CLI's Error line."""
    if report is not None:
        [result] = report["results"]
        failed = [c["message"] for c in result["changes"] if c["status"] == "failed"]
        reasons = [*(f"failed: {m}" for m in failed), *result["not_converged"]]
        if reasons:
            return reasons[0]
    return next((line for line in err.splitlines() if line.startswith("Error: ")), "")


def capacity(index: int, updated: bool) -> float:
    """A value unique per spec, so a rating that moved to the wrong spec would show."""
    return round((3.0 if updated else 5.0) + index / 1000, 3)


def all_specs(api: Api) -> list[dict[str, Any]]:
    """Every spec of the sandbox's project, page by page (faults must be off)."""
    rows: list[dict[str, Any]] = []
    while True:
        response = api.http.get(
            "/cell_specifications",
            params={
                "project_id": api.server.project_id,
                "full": "true",
                "limit": 100,
                "offset": len(rows),
            },
        )
        response.raise_for_status()
        page = response.json()
        rows.extend(page["items"])
        if not page["items"] or len(rows) >= page["total"]:
            return rows


class ChaosScenario:
    """Drives the three steps against one sandbox and checks the invariants after every run."""

    def __init__(self, server: SandboxServer, cli: Cli, workdir: Path, config: ChaosConfig):
        self.server = server
        self.cli = cli
        self.workdir = workdir
        self.config = config
        self.api = Api(server)
        self.manifests = workdir / "manifests"
        self.names = [f"Chaos Cell {i:04d}" for i in range(config.creates)]
        self.ids: dict[str, str] = {}
        self.updated: set[str] = set()
        self.report = ChaosReport(config)

    def close(self) -> None:
        self.api.close()

    # -- the scenario --------------------------------------------------------------------------

    def run(self) -> ChaosReport:
        started = time.perf_counter()
        config = self.config
        self._step("create", wanted=set(self.names), updated=set())
        changed = set(self.names[: config.updates])
        self._step("update", wanted=set(self.names), updated=changed)
        pruned = self.names[-config.prunes :] if config.prunes else []
        for name in pruned[: config.cascading]:
            self.api.seed(self.ids[name], instances=2, measurements=1, batches=1)
        self._step("prune", wanted=set(self.names) - set(pruned), updated=changed)
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _step(self, step: str, *, wanted: set[str], updated: set[str]) -> None:
        docs = [
            spec_doc(name, capacity=capacity(i, name in updated))
            for i, name in enumerate(self.names)
            if name in wanted
        ]
        config = f"max_deletes: {max(self.config.prunes, 1)}\n"
        write_manifests(self.manifests, *docs, config=config)
        for run in range(1, self.config.max_runs + 1):
            code = self._apply(step, run, prune=step == "prune")
            self._check(step, wanted=wanted, updated=updated, converged=code == 0)
            if code == 0:
                self.updated = set(updated)
                return
        codes = [r.code for r in self.report.runs if r.step == step]
        raise AssertionError(f"{step}: not converged after {self.config.max_runs} runs {codes}")

    def _apply(self, step: str, run: int, *, prune: bool) -> int:
        config = self.config
        self.api.set_faults(
            fault_rate=config.fault_rate,
            faults=list(ALL_FAULTS),
            seed=config.seed * 1000 + STEPS.index(step) * 10 + run,
            stall_seconds=config.stall_seconds,
        )
        self.api.clear_journal()
        report_file = self.workdir / f"report-{step}-{run}.json"
        args = [
            *self._global_options(),
            "--concurrency",
            str(config.concurrency),
            "--timeout",
            str(config.timeout),
            "apply",
            str(self.manifests),
            "--yes",
            "--report",
            str(report_file),
        ]
        if prune:
            args += ["--prune", "--allow-cascade"]
        started = time.perf_counter()
        code, out, err = self.cli(args)
        seconds = time.perf_counter() - started
        self.api.set_faults(fault_rate=0.0)
        journal = self.api.journal()
        faults = Counter(str(e["fault"]) for e in journal if e["fault"])
        report = json.loads(report_file.read_text()) if report_file.exists() else None
        failed = self._check_exit(step, run, code, out + err, report, faults)
        if step != "prune":
            deletes = [e for e in journal if e["method"] == "DELETE"]
            assert not deletes, f"{step} run {run}: DELETE requests without a prune: {deletes}"
        self.report.runs.append(
            RunRecord(
                step, run, code, len(journal), faults, failed, round(seconds, 2), why(err, report)
            )
        )
        if report is not None:
            self._check_report_truthful(step, run, report)
        return code

    def _global_options(self) -> list[str]:
        server = self.server
        return [
            "--api-url",
            server.url,
            "--api-key",
            server.api_key,
            "--project",
            server.project_id,
        ]

    # -- invariants ----------------------------------------------------------------------------

    def _check_exit(
        self,
        step: str,
        run: int,
        code: int,
        output: str,
        report: dict[str, Any] | None,
        faults: Counter[str],
    ) -> int:
        """The exit code must say what the report says; a failure must have a cause."""
        where = f"{step} run {run} (exit {code}, faults {dict(faults)})"
        assert "Traceback" not in output and "Internal error" not in output, f"{where}:\n{output}"
        assert code in (0, 1), f"{where}: unexpected exit code:\n{output}"
        failed = 0
        if report is not None:
            [result] = report["results"]
            failed = result["summary"]["failed"]
            clean = failed == 0 and not result["not_converged"]
            assert clean == (code == 0), f"{where}: exit code disagrees with the report:\n{output}"
        else:  # apply writes no report when there is nothing to do
            nothing = code == 0 and "No changes." in output
            assert code != 0 or nothing, f"{where}: exit 0 without a report:\n{output}"
        if code != 0:
            assert "Error: " in output, f"{where}: a failure must say why:\n{output}"
            assert faults, f"{where}: failed although no fault was injected:\n{output}"
        return int(failed)

    def _check_report_truthful(self, step: str, run: int, report: dict[str, Any]) -> None:
        """A change reported applied (or already done) holds in the live state."""
        live = {s["name"]: s for s in all_specs(self.api)}
        [result] = report["results"]
        for change in result["changes"]:
            assert not change["restored"], f"{step} run {run}: a lone writer saw another: {change}"
            if change["status"] not in ("applied", "already"):
                continue
            name = change["name"]
            where = f"{step} run {run}: {change['kind']} '{name}' reported {change['status']}"
            if change["kind"] == "delete":
                assert name not in live, f"{where} but the spec is still there"
                continue
            assert name in live, f"{where} but the spec is missing"
            assert live[name]["id"] == change["spec_id"], f"{where} with another id"
            index = self.names.index(name)
            expected = capacity(index, step != "create" and index < self.config.updates)
            got = live[name]["ratings"]["capacity"]["value"]
            assert got == expected, f"{where} but its capacity is {got}, not {expected}"

    def _check(self, step: str, *, wanted: set[str], updated: set[str], converged: bool) -> None:
        """Invariants that hold after every run, and convergence after a successful one."""
        specs = all_specs(self.api)
        names = [s["name"] for s in specs]
        duplicates = sorted(n for n, c in Counter(names).items() if c > 1)
        assert not duplicates, f"{step}: duplicate specs {duplicates}"
        strangers = sorted(set(names) - set(self.names))
        assert not strangers, f"{step}: specs no manifest ever declared: {strangers}"
        by_name = {s["name"]: s for s in specs}
        for name, spec_id in self.ids.items():
            if name in wanted or step != "prune":
                assert name in by_name, f"{step}: '{name}' was deleted but never planned to be"
            if name in by_name:
                assert by_name[name]["id"] == spec_id, f"{step}: '{name}' was re-created"
        for name, spec in by_name.items():
            self.ids.setdefault(name, spec["id"])
            index = self.names.index(name)
            value = spec["ratings"]["capacity"]["value"]
            old, new = capacity(index, False), capacity(index, True)
            if name not in updated:
                allowed = {old}
            elif name in self.updated:  # seen with its new value: it must keep it
                allowed = {new}
            else:
                allowed = {old, new}
            assert value in allowed, f"{step}: '{name}' has capacity {value}, not one of {allowed}"
            if value == new and name in updated:
                self.updated.add(name)
        if converged:
            assert set(names) == wanted, f"{step}: exit 0 but live names differ from manifests"
            for name in wanted:
                value = by_name[name]["ratings"]["capacity"]["value"]
                expected = capacity(self.names.index(name), name in updated)
                assert value == expected, f"{step}: exit 0 but '{name}' is {value}, not {expected}"
            code, out, err = self.cli(
                [*self._global_options(), "plan", str(self.manifests), "--detailed-exitcode"]
            )
            assert code == 0, f"{step}: exit 0 but a new plan still has changes:\n{out}{err}"


# -- the script ---------------------------------------------------------------------------------


def in_process_cli(argv: Sequence[str]) -> tuple[int, str, str]:
    """Run ``ionworks-apply`` through its real entry point, capturing its output."""
    from reconciler.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def run_scenario(config: ChaosConfig, workdir: Path, cli: Cli = in_process_cli) -> ChaosReport:
    settings = SandboxSettings(
        db_path=workdir / "sandbox.db",
        stall_seconds=config.stall_seconds,
        patch_mode="merge" if config.patch_mode == "merge" else "replace",
    )
    server = SandboxServer(settings)
    server.start()
    scenario = ChaosScenario(server, cli, workdir, config)
    try:
        return scenario.run()
    finally:
        scenario.close()
        server.stop()


def print_report(report: ChaosReport) -> None:
    config = report.config
    print(
        f"seed {config.seed}: {config.creates} creates, {config.updates} updates, "
        f"{config.prunes} prunes ({config.cascading} with instances), fault rate "
        f"{config.fault_rate:g}, stall {config.stall_seconds:g} s, timeout {config.timeout:g} s"
    )
    for step in STEPS:
        runs = [r for r in report.runs if r.step == step]
        codes = " ".join(str(r.code) for r in runs)
        requests = sum(r.requests for r in runs)
        seconds = sum(r.seconds for r in runs)
        print(
            f"  {step:7} runs {len(runs)}  exit codes [{codes}]  requests {requests:6}  "
            f"failed changes {[r.failed_changes for r in runs]}  {seconds:6.1f} s"
        )
    for run in report.runs:
        if run.error:
            print(f"  {run.step} run {run.run}: {run.error[:160]}")
    faults = report.faults()
    shown = ", ".join(f"{kind} {faults.get(kind, 0)}" for kind in ALL_FAULTS)
    print(f"  faults injected: {sum(faults.values())} ({shown})")
    print(f"  requests total: {report.requests}; wall time {report.seconds:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--creates", type=int, default=500)
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--prunes", type=int, default=50)
    parser.add_argument("--cascading", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--max-runs", type=int, default=3, help="Runs allowed per step.")
    args = parser.parse_args()
    for seed in args.seeds:
        config = ChaosConfig(
            creates=args.creates,
            updates=args.updates,
            prunes=args.prunes,
            cascading=args.cascading,
            seed=seed,
            fault_rate=args.fault_rate,
            max_runs=args.max_runs,
        )
        with tempfile.TemporaryDirectory() as tmp:
            print_report(run_scenario(config, Path(tmp)))


if __name__ == "__main__":
    main()
