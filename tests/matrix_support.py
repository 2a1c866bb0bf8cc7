"""The lifecycle ``tests/test_api_matrix.py`` runs against the sandbox under each behaviour switch.

One ``Lifecycle`` drives the CLI through what a team does with ionworks-apply (create, a nested
update that drops keys, rename, adopt, prune with a cascade, a shared material change, drift)
and checks after every step that apply converged (exit 0, then ``plan --detailed-exitcode``
exits 0 and the live specs hold what the manifests say) or failed exactly as the README
documents for that behaviour. ``Cell`` says which documented failures to expect.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from helpers import Api, CliResult, env_for, spec_doc, write_manifests

from reconciler.sandbox.server import SandboxServer

Cli = Callable[..., CliResult]
OURS = "ionworks-apply/default"
VIEWER_KEY = "viewer-key-for-the-matrix"
#: Keys of Cell A that the nested-update step drops, as the plan and messages name them.
DROPPED = ("anode.properties.binder", "properties.tab_count", "ratings.energy")


@dataclass(frozen=True)
class Cell:
    """One column of the matrix: the sandbox's switches and what the lifecycle must then do."""

    settings: dict[str, Any] = field(default_factory=dict)
    #: False where the API deep-merges and refuses null: dropped keys cannot be removed.
    removes_nested_keys: bool = True
    #: False where Ionworks never changes an existing material through a spec write.
    changes_materials: bool = True
    #: False for a read-only credential: every apply must stop at its first write.
    may_write: bool = True


def q(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit}


def graphite(d50: float) -> dict[str, Any]:
    """The catalog entry of the material Cells A and B share."""
    definition = {"type": "graphite", "particle_size_d50": q(d50, "um")}
    return {
        "kind": "material",
        "name": "Graphite",
        "manufacturer": "Acme",
        "definition": definition,
    }


def anode(**properties: Any) -> dict[str, Any]:
    return {"properties": properties, "material": {"name": "Graphite", "manufacturer": "Acme"}}


def cell_a() -> dict[str, Any]:
    doc = spec_doc(
        "Cell A",
        properties={"assembly_method": "wound", "tab_count": q(2, "dimensionless")},
        source={"doi": "10.1000/cell-a", "license": "CC-BY-4.0"},
        anode=anode(coating_thickness=q(80, "um"), binder="CMC"),
        notes="the reference cell",
    )
    doc["ratings"]["energy"] = q(18.0, "W*h")
    return doc


def live_specs(api: Api) -> dict[str, dict[str, Any]]:
    """Every spec of the project by name, read in name order (exact under any list order)."""
    rows: list[dict[str, Any]] = []
    while True:
        params = {"project_id": api.server.project_id, "full": "true", "limit": 100}
        params.update({"offset": len(rows), "order_by": "name", "order": "asc"})
        page = api.http.get("/cell_specifications", params=params)
        page.raise_for_status()
        rows.extend(page.json()["items"])
        if len(rows) >= page.json()["total"]:
            return {row["name"]: row for row in rows}


def api_requests(api: Api) -> list[dict[str, Any]]:
    return [r for r in api.journal() if not r["path"].startswith("/_sandbox")]


def is_exact_list_read(request: dict[str, Any]) -> bool:
    """A list GET either pages in name order, or only asks for the total (one row)."""
    query = {key: values[-1] for key, values in parse_qs(request["query"]).items()}
    ordered = query.get("order_by") == "name" and query.get("order") == "asc"
    return ordered or (query.get("limit"), query.get("offset")) == ("1", "0")


class Lifecycle:
    """The steps, in order, against one sandbox; each asserts its own outcome."""

    def __init__(self, server: SandboxServer, cli: Cli, workdir: Path, cell: Cell) -> None:
        self.server = server
        self.cli = cli
        self.cell = cell
        self.env = env_for(server)
        self.api = Api(server)
        self.dir = workdir / "manifests"
        self.report_path = workdir / "report.json"
        self.material = graphite(15)
        self.docs: dict[str, dict[str, Any]] = {}
        self.ids: dict[str, str] = {}

    def close(self) -> None:
        self.api.close()

    # -- driving the CLI -------------------------------------------------------------------------

    def write(self) -> None:
        docs = [self.material, *self.docs.values()]
        write_manifests(self.dir, *docs, config="allow_cascade: true\n")

    def run(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        return self.cli(*args, env=env or self.env)

    def apply(self, *flags: str, env: dict[str, str] | None = None) -> CliResult:
        self.report_path.unlink(missing_ok=True)
        self.api.clear_journal()
        args = ("apply", str(self.dir), "--yes", "--report", str(self.report_path), *flags)
        return self.run(*args, env=env)

    def outcomes(self) -> dict[str, dict[str, Any]]:
        """The last apply's report: each change's outcome by spec (or material) name."""
        [result] = json.loads(self.report_path.read_text())["results"]
        return {change["name"]: change for change in result["changes"]}

    def plan(self, *flags: str) -> dict[str, Any]:
        result = self.run("plan", str(self.dir), "--format", "json", *flags)
        assert result.code == 0, result.output
        [plan] = json.loads(result.out)["plans"]
        return dict(plan)

    def converge(self, *flags: str) -> dict[str, dict[str, Any]]:
        """Apply must exit 0 and leave nothing to do; returns the live specs by name."""
        result = self.apply(*flags)
        assert result.code == 0, result.output
        assert "Traceback" not in result.output
        assert not any(o["restored"] for o in self.outcomes().values()), "a lone writer"
        reads = [r for r in api_requests(self.api) if r["method"] == "GET" and r["query"]]
        assert all(is_exact_list_read(r) for r in reads), reads
        plan = self.run("plan", str(self.dir), "--detailed-exitcode", *flags)
        assert plan.code == 0, plan.output
        assert "No changes." in plan.out, plan.out
        live = live_specs(self.api)
        for name, doc in self.docs.items():
            assert name in live, f"{name} is missing after apply"
            if name in self.ids:
                assert live[name]["id"] == self.ids[name], f"{name} was re-created"
            self.ids[name] = live[name]["id"]
            assert live[name]["properties"]["managed_by"] == OURS
            assert live[name]["ratings"]["capacity"] == doc["ratings"]["capacity"]
        return live

    # -- the steps -------------------------------------------------------------------------------

    def project(self, env: dict[str, str] | None = None) -> None:
        """Every plan header names the project; an unknown one stops before anything is read."""
        directory, project = str(self.dir), self.server.project_id
        text = self.run("plan", directory, env=env)
        markdown = self.run("plan", directory, "--format", "markdown", env=env)
        document = self.run("plan", directory, "--format", "json", env=env)
        assert f'Project "Sandbox project" ({project}, owner default)' in text.out, text.output
        assert f"### Project `Sandbox project` (`{project}`)" in markdown.out
        assert json.loads(document.out)["plans"][0]["project_name"] == "Sandbox project"
        self.api.clear_journal()
        unknown = self.run("--project", "no-such-project", "apply", directory, "--yes", env=env)
        assert unknown.code == 1
        assert unknown.err.startswith("Error: project no-such-project is unknown"), unknown.err
        assert [r["path"] for r in api_requests(self.api)] == ["/projects/no-such-project"]

    def create(self) -> None:
        self.docs = {
            "Cell A": cell_a(),
            "Cell B": spec_doc("Cell B", anode=anode(coating_thickness=q(70, "um"))),
            "Cell C old": spec_doc("Cell C old", capacity=3.0),
            "Cell D": spec_doc("Cell D", capacity=2.5, unit="A.h"),
        }
        self.write()
        live = self.converge()
        assert set(live) == set(self.docs)
        assert live["Cell A"]["ratings"]["energy"] == q(18.0, "W*h")

    def nested_update(self) -> None:
        """Cell A drops one key from each nested object and changes its capacity."""
        doc = self.docs["Cell A"]
        doc["ratings"]["capacity"] = q(4.9, "A*h")
        del doc["ratings"]["energy"], doc["properties"]["tab_count"]
        del doc["anode"]["properties"]["binder"]
        self.write()
        if not self.cell.removes_nested_keys:
            self._dropped_keys_refused()
            return
        live = self.converge()["Cell A"]
        assert "energy" not in live["ratings"] and "tab_count" not in live["properties"]
        assert live["anode"]["properties"] == {"coating_thickness": q(80, "um")}

    def _dropped_keys_refused(self) -> None:
        """Merge + reject: said once, naming the keys, exit 1; a re-run sends one refused
        PATCH again and says the same; declaring the keys again converges."""
        for _ in range(2):
            result = self.apply()
            assert result.code == 1, result.output
            [error] = [line for line in result.err.splitlines() if line.startswith("Error:")]
            assert "Some need you to act first" in error
            outcome = self.outcomes()["Cell A"]
            assert outcome["status"] == "failed"
            assert f"{', '.join(DROPPED)} could not be removed" in outcome["message"]
            assert result.output.count("could not be removed") == 1, result.output
            patches = [r for r in api_requests(self.api) if r["method"] == "PATCH"]
            assert [r["status"] for r in patches] == [200, 422], patches
            live = live_specs(self.api)["Cell A"]
            assert live["ratings"]["capacity"] == q(4.9, "A*h"), "the rest was written"
            assert "energy" in live["ratings"]
        [update] = self.plan()["changes"]
        paths = {detail["path"] for detail in update["details"]}
        assert paths == set(DROPPED), "plan keeps showing what could not be removed"
        original = cell_a()
        doc = self.docs["Cell A"]
        doc["ratings"]["energy"] = original["ratings"]["energy"]
        doc["properties"]["tab_count"] = original["properties"]["tab_count"]
        doc["anode"]["properties"]["binder"] = "CMC"
        self.write()
        self.converge()

    def rename(self) -> None:
        doc = self.docs.pop("Cell C old")
        old_id = self.ids.pop("Cell C old")
        self.docs["Cell C"] = {
            **doc,
            "name": "Cell C",
            "lifecycle": {"previous_names": ["Cell C old"]},
        }
        self.ids["Cell C"] = old_id
        self.write()
        assert "Cell C old" not in self.converge()

    def adopt(self) -> None:
        """A colleague made 'Cell E' in the web app; a manifest now declares it."""
        made = self.api.create(
            {**spec_doc("Cell E", capacity=1.5), "properties": {"assembly_method": "stacked"}}
        )
        self.ids["Cell E"] = made["id"]
        self.docs["Cell E"] = spec_doc(
            "Cell E", capacity=1.5, properties={"assembly_method": "stacked"}, notes="adopted"
        )
        self.write()
        assert self.converge()["Cell E"]["notes"] == "adopted"

    def prune(self) -> None:
        """Cell D, with cells and measurements under it, leaves the manifests: pruned."""
        self.api.seed(self.ids["Cell D"], instances=2, measurements=2, batches=1)
        del self.docs["Cell D"]
        gone = self.ids.pop("Cell D")
        self.write()
        assert "Cell D" not in self.converge("--prune")
        deletes = [r for r in api_requests(self.api) if r["method"] == "DELETE"]
        assert [(r["path"], r["status"]) for r in deletes] == [
            (f"/cell_specifications/{gone}", 204)
        ]

    def material_change(self) -> None:
        """The shared material's definition changes once, in its catalog entry."""
        self.material = graphite(12)
        self.write()
        if not self.cell.changes_materials:
            result = self.apply()
            assert result.code == 1, result.output
            outcome = self.outcomes()['"Graphite" (Acme)']
            assert "Ionworks kept the existing definition of material" in outcome["message"]
            self.material = graphite(15)  # what the message advises: define it as it is
            self.write()
            self.converge()
            return
        live = self.converge()
        for name in ("Cell A", "Cell B"):
            definition = live[name]["anode"]["material"]["definition"]
            assert definition["particle_size_d50"] == q(12, "um"), name

    def drift(self) -> None:
        """In sync; a web-app edit is drift (exit 2) until apply sets it back."""
        directory = str(self.dir)
        assert self.run("drift", directory).code == 0
        self.api.patch(self.ids["Cell B"], {"form_factor": "18650"})
        report = self.run("drift", directory, "--format", "json")
        assert report.code == 2, report.output
        [project] = json.loads(report.out)["projects"]
        [changed] = project["drift"]
        details = [d["path"] for d in changed["details"]]
        assert (changed["name"], details) == ("Cell B", ["form_factor"])
        assert self.converge()["Cell B"]["form_factor"] == "21700"
        assert self.run("drift", directory).code == 0

    def read_only(self) -> None:
        """A viewer's credential: plan and drift read; apply stops at its first write."""
        viewer = {**self.env, "IONWORKS_API_KEY": VIEWER_KEY}
        self.docs["Cell A"]["notes"] = "changed"
        self.docs["Cell B"]["ratings"]["capacity"] = q(4.0, "A*h")
        self.docs["Cell F"] = spec_doc("Cell F")
        self.write()
        self.project(env=viewer)
        assert len(self.plan()["changes"]) == 3
        assert self.run("drift", str(self.dir), env=viewer).code == 2
        result = self.apply(env=viewer)
        assert result.code == 1, result.output
        writes = [r for r in api_requests(self.api) if r["method"] in ("POST", "PATCH", "DELETE")]
        assert [r["status"] for r in writes] == [403], writes
        statuses = sorted(o["status"] for o in self.outcomes().values())
        assert statuses == ["failed", "skipped", "skipped"], self.outcomes()
        [failed] = [o for o in self.outcomes().values() if o["status"] == "failed"]
        assert "can read project" in failed["message"] and "not write it" in failed["message"]
        self.converge()
