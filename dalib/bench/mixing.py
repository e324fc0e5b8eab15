"""Which runs may share a table: rows, grid choices, and the settings every row must share.

A table row is one setting:

* a run without hyper-parameter overrides is in the row of its method label (``dann``,
  ``dann+w:kmm``);
* one-off overrides (``--hp``) make their own row, labelled with them:
  ``dann [dann.weight=0.3]``;
* runs launched as a grid (``--grid``) share the row ``dann (grid: dann.weight)`` (plus any
  one-off overrides in brackets), and the table picks one grid point per task under the
  selection protocol and lists it under the table.

`find_mixing` refuses what would still mix settings: two runs of one setting (same label
and overrides) with different fingerprints (e.g. an edited plugin, another ``--epochs``),
or runs of one table whose shared components differ — the dataset, dalib / torch /
scikit-learn versions, the device, or any profile field the row's own overrides do not set.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

from dalib.bench.fingerprint import canonical_json, with_omitted_defaults
from dalib.bench.values import format_value

HpItems = tuple[tuple[str, str, Any], ...]


def hp_text(items: Iterable[tuple[str, str, Any]]) -> str:
    """``dann.weight=0.3, profile.lr=0.01`` (empty for no items)."""
    return ", ".join(f"{t}.{n}={format_value(v)}" for t, n, v in items)


def row_label(label: str, hparams: HpItems, grid: tuple[str, ...] = ()) -> str:
    """The table row of a run (see the module docstring)."""
    fixed = [h for h in hparams if f"{h[0]}.{h[1]}" not in grid]
    name = f"{label} [{hp_text(fixed)}]" if fixed else label
    return f"{name} (grid: {', '.join(sorted(grid))})" if grid else name


def grid_choice(hparams: HpItems, grid: tuple[str, ...]) -> str:
    """The grid point of a run: its values of the grid axes, as text."""
    return hp_text(h for h in hparams if f"{h[0]}.{h[1]}" in grid)


@dataclass(frozen=True)
class RunEntry:
    """What the mixing checks need of one run, stored (a record) or about to run (a spec)."""

    key: str
    label: str
    hparams: HpItems
    grid: tuple[str, ...]
    fingerprint: str | None
    setting: dict[str, Any] | None
    origin: str = ""  # "stored" / "new" in the bench's messages

    @classmethod
    def of_record(cls, record: dict[str, Any], origin: str = "") -> "RunEntry":
        hparams = tuple((str(t), str(n), tuple(v) if isinstance(v, list) else v) for t, n, v in record.get("hparams", []))
        return cls(record.get("key", ""), record["method"], hparams, tuple(record.get("grid", ())),
                   record.get("fingerprint"), record.get("setting"), origin)

    @property
    def row(self) -> str:
        return row_label(self.label, self.hparams, self.grid)


def _leaves(entry: RunEntry) -> dict[str, str]:
    """The shared components of a run as path → canonical JSON (profile fields its own
    ``--hp``/``--grid`` set are left out: they are in its row label)."""
    setting = with_omitted_defaults(entry.setting or {})  # a default left out still differs from bf16
    out = {}
    if "dataset" in setting:
        out["dataset"] = canonical_json(setting["dataset"])
    for name, version in setting.get("versions", {}).items():
        out[f"versions.{name}"] = canonical_json(version)
    if "device" in setting:
        out["device"] = canonical_json(setting["device"])
    own = {n for t, n, _ in entry.hparams if t == "profile"}
    for name, value in (setting.get("profile") or {}).items():
        if name not in own:
            out[f"profile.{name}"] = canonical_json(value)
    return out


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "…"


def first_difference(a: Any, b: Any, path: str = "") -> tuple[str, str, str]:
    """(path, value in a, value in b) of the first leaf where two settings differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if canonical_json(a.get(key)) != canonical_json(b.get(key)):
                return first_difference(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
    return path, _short(canonical_json(a)), _short(canonical_json(b))


def _count(entries: list[RunEntry]) -> str:
    origins = sorted({e.origin for e in entries})
    kind = f"{origins[0]} " if len(origins) == 1 and origins[0] else ""
    return f"{len(entries)} {kind}run(s)"


def find_mixing(entries: list[RunEntry]) -> str | None:
    """One line naming the first mixed setting among ``entries``, or None when they may share a table."""
    by_setting: dict[tuple[str, str], dict[str, list[RunEntry]]] = defaultdict(lambda: defaultdict(list))
    for e in entries:
        if e.fingerprint is not None:
            by_setting[(e.row, grid_choice(e.hparams, e.grid))][e.fingerprint].append(e)
    for (row, choice), groups in by_setting.items():
        if len(groups) > 1:
            (fa, ea), (fb, eb) = sorted(groups.items(), key=lambda kv: -len(kv[1]))[:2]
            path, va, vb = first_difference(with_omitted_defaults(ea[0].setting), with_omitted_defaults(eb[0].setting))
            where = f"{row}" + (f" at {choice}" if choice else "")
            return f"{where}: {path} is {va} in {_count(ea)} but {vb} in {_count(eb)} (e.g. {eb[0].key})"
    leaves = {id(e): _leaves(e) for e in entries}
    for path in sorted({p for v in leaves.values() for p in v}):
        values: dict[str, list[RunEntry]] = defaultdict(list)
        for e in entries:
            if path in leaves[id(e)]:
                values[leaves[id(e)][path]].append(e)
        if len(values) > 1:
            (va, ea), (vb, eb) = sorted(values.items(), key=lambda kv: -len(kv[1]))[:2]
            if path == "dataset":
                sub, va, vb = first_difference(ea[0].setting["dataset"], eb[0].setting["dataset"])  # type: ignore[index]
                path = f"dataset.{sub}"
            return f"{path} is {_short(va)} in {_count(ea)} but {_short(vb)} in {_count(eb)} (e.g. {eb[0].key})"
    return None
