"""Safety guards on deletes, the whole story: evaluate, lift by prompt, enforce.

Every planned delete is checked against: protected name globs, the absolute and relative delete
thresholds, the empty-manifests guard, and its cascade (instances, batches, measurements). A
blocked delete carries a ``Block`` per guard with what would allow it, so ``plan`` can show the
blocks and ``apply`` can refuse with the same words (``evaluate``). Before apply writes anything,
``enforce`` lets a user on a terminal lift a cascade-only block by typing the spec's name (the
prompt itself is the caller's) and refuses the whole plan if any block remains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

from reconciler.config import CONFIG_FILENAME, ProjectConfig
from reconciler.errors import GuardError
from reconciler.plan import Block, Change, MaterialChange, Plan

#: The relative threshold only means something once a project has a few specs.
PERCENT_GUARD_FROM = 10


@dataclass(frozen=True)
class GuardOptions:
    """The opt-ins a user gave on the command line (the config adds its own)."""

    allow_cascade: bool = False
    allow_empty: bool = False
    allow_shared_material: bool = False
    #: Whether apply, run as this run would run it, could ask to lift a cascade block (a
    #: terminal, not a reviewed plan): only then is the prompt offered as a way to allow one.
    #: In CI there is no prompt, so suggesting one would send a reviewer nowhere.
    prompt: bool = False


def evaluate(
    plan: Plan, config: ProjectConfig, options: GuardOptions, *, desired_count: int
) -> Plan:
    """The plan with every delete's blocks (re)computed under these options."""
    deletes = plan.of_kind("delete")
    shared = _shared_blocks(plan, config, options, len(deletes), desired_count)
    allow_cascade = options.allow_cascade or config.allow_cascade
    changes: list[Change] = []
    for change in plan.changes:
        if change.kind != "delete":
            changes.append(change)
            continue
        blocks = [*_protect_blocks(change.name, config), *shared]
        if change.cascade is not None and not change.cascade.empty and not allow_cascade:
            blocks.append(
                Block(
                    guard="cascade",
                    reason=f"it would also delete {change.cascade.describe()}",
                    allow=_cascade_allow(prompt=options.prompt),
                )
            )
        changes.append(replace(change, blocks=tuple(blocks)))
    allow_shared = options.allow_shared_material or config.allow_shared_material_changes
    materials = tuple(
        replace(material, blocks=() if allow_shared else _material_blocks(material))
        for material in plan.materials
    )
    return replace(plan, changes=tuple(changes), materials=materials)


def _cascade_allow(*, prompt: bool) -> str:
    """What allows a delete that takes cell data along; the prompt only where there is one."""
    ways = ["`--allow-cascade`", f"`allow_cascade: true` in {CONFIG_FILENAME}"]
    if prompt:
        ways.append("typing the spec's name at apply's prompt")
    return ", ".join(ways[:-1]) + ", or " + ways[-1]


def _material_blocks(material: MaterialChange) -> tuple[Block, ...]:
    """A material change that reaches specs this directory does not manage needs consent."""
    beyond = material.beyond_here
    if not beyond:
        return ()
    unmanaged = [r.name for r in beyond if r.owner is None]
    others = [r for r in beyond if r.owner is not None]
    parts = []
    if unmanaged:
        parts.append(f"{len(unmanaged)} unmanaged")
    if others:
        owners = sorted({str(r.owner) for r in others})
        parts.append(f"{len(others)} managed by {', '.join(owners)}")
    return (
        Block(
            guard="shared_material",
            reason=(
                f"it also changes {len(beyond)} spec{'' if len(beyond) == 1 else 's'} this "
                f"directory does not manage ({' and '.join(parts)})"
            ),
            allow=(
                "`--allow-shared-material`, or `allow_shared_material_changes: true` in "
                f"{CONFIG_FILENAME}"
            ),
        ),
    )


def _protect_blocks(name: str, config: ProjectConfig) -> list[Block]:
    return [
        Block(
            guard="protect",
            reason=f"its name matches the protect glob '{glob}'",
            allow=f"remove '{glob}' from `protect` in {CONFIG_FILENAME}",
        )
        for glob in config.protect
        if fnmatchcase(name, glob)
    ]


def _shared_blocks(
    plan: Plan, config: ProjectConfig, options: GuardOptions, deletes: int, desired_count: int
) -> list[Block]:
    """Guards that hold for all deletes of a plan at once."""
    if not deletes:
        return []
    blocks: list[Block] = []
    if deletes > config.max_deletes:
        blocks.append(
            Block(
                guard="max_deletes",
                reason=f"{deletes} deletes exceed max_deletes: {config.max_deletes}",
                allow=f"raise `max_deletes` in {CONFIG_FILENAME} to at least {deletes}",
            )
        )
    managed = plan.managed_count
    if managed >= PERCENT_GUARD_FROM:
        percent = 100.0 * deletes / managed
        if percent > config.max_delete_percent:
            blocks.append(
                Block(
                    guard="max_delete_percent",
                    reason=(
                        f"{deletes} of {managed} managed specs ({percent:.0f}%) exceed "
                        f"max_delete_percent: {config.max_delete_percent:g}"
                    ),
                    allow=f"raise `max_delete_percent` in {CONFIG_FILENAME} to at least "
                    f"{percent:.0f}",
                )
            )
    if desired_count == 0 and not options.allow_empty:
        blocks.append(
            Block(
                guard="empty",
                reason=(
                    f"the manifests declare no spec at all while {managed} specs are owned "
                    "(wrong directory, or everything deleted by accident?)"
                ),
                allow="`--allow-empty`",
            )
        )
    return blocks


ConfirmCascade = Callable[[Change], bool]


def enforce(plan: Plan, confirm_cascade: ConfirmCascade | None) -> Plan:
    """The plan with every block lifted, or GuardError naming each one that remains.

    A cascade-only block may be lifted by the user typing the spec's name, when
    ``confirm_cascade`` is given (a terminal); nothing else can be lifted here.
    """
    blocked: list[str] = []
    changes: list[Change] = []
    for change in plan.changes:
        remaining = list(change.blocks)
        only_cascade = remaining and all(b.guard == "cascade" for b in remaining)
        if only_cascade and confirm_cascade is not None and confirm_cascade(change):
            remaining = []
        blocked.extend(
            f'DELETE "{change.name}" blocked: {b.reason}; to allow: {b.allow}' for b in remaining
        )
        changes.append(replace(change, blocks=()) if change.blocks else change)
    blocked.extend(
        f"MATERIAL {material.name} blocked: {b.reason}; to allow: {b.allow}"
        for material in plan.materials
        for b in material.blocks
    )
    if blocked:
        raise GuardError(
            f"{len(blocked)} guard(s) refused changes; nothing was written", blocked=blocked
        )
    return replace(plan, changes=tuple(changes))
