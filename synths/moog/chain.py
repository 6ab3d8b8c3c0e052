"""Chains as data: cells in layers (columns) and channels (rows), wired by name, validated.

A chain is a mapping (YAML file or inline config)::

    description: saw + square -> mix -> ADSR -> low-pass
    layers:                       # layer 0 first; a layer is a list of cells (its channels)
      - - {name: saw, type: osc, waveform: saw}
        - {name: square, type: osc, waveform: square}
      - - {name: mix, type: mix, in: [saw, square]}
      - - {name: amp, type: adsr, in: [mix]}
      - - {name: filter, type: lowpass, in: [amp]}

Each cell has a unique ``name``, a ``type`` (see :data:`synths.moog.modules.MODULES`),
its type's options (``waveform``, ``envelope``), optional ``ranges: {param:
[low, high]}``, and one list of sources per input port (``in``, ``mod``). A
source is a cell name (a fixed connection) or ``{from: name, optional: true}``:
an optional connection is a parameter of the synth (on/off) that synthetic
suites switch at random. A cell may only be fed by cells of earlier layers,
every cell outside the last layer must feed some cell, and the output is the
average of the last layer's cells (as in DiffMoog).

Shipped chains live next to this module in ``chains/<name>.yaml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from soundmatch.errors import UserError
from synths.moog.modules import MODULES, Module, check_waveform_option

CHAINS_DIR = Path(__file__).resolve().parent / "chains"
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
CELL_KEYS = {"name", "type", "ranges"}


@dataclass(frozen=True)
class Connection:
    """``source`` feeds ``port`` of the cell that holds this; optional ones have an on/off gate."""

    source: str
    port: str
    optional: bool = False


@dataclass(frozen=True)
class Cell:
    """One cell of a chain: its module (with options and sources), position and connections."""

    module: Module
    layer: int
    channel: int
    connections: tuple[Connection, ...]

    @property
    def name(self) -> str:
        return self.module.name


@dataclass(frozen=True)
class Chain:
    """A validated chain; ``cells`` in render order (layer by layer)."""

    name: str
    description: str
    cells: tuple[Cell, ...]

    @property
    def num_layers(self) -> int:
        return 1 + max(c.layer for c in self.cells)

    @property
    def outputs(self) -> list[str]:
        """Names of the last layer's cells, whose average is the synth's output."""
        return [c.name for c in self.cells if c.layer == self.num_layers - 1]


def chain_names() -> list[str]:
    """Names of the shipped chains."""
    return sorted(p.stem for p in CHAINS_DIR.glob("*.yaml"))


def load_chain(chain: str | dict[str, Any]) -> Chain:
    """A shipped chain by name, a chain YAML file by path, or an inline mapping; validated."""
    if isinstance(chain, dict):
        return parse_chain(chain, "inline")
    text = str(chain)
    path = CHAINS_DIR / f"{text}.yaml"
    if not path.is_file():
        path = Path(text).expanduser()
        if not (text.endswith((".yaml", ".yml")) and path.is_file()):
            raise UserError(
                f"unknown moog chain '{text}'; available: {', '.join(chain_names())} "
                "(or give the path of a chain .yaml file)"
            )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise UserError(f"moog chain file {path}: not valid YAML ({str(err).splitlines()[0]})") from None
    return parse_chain(data, path.stem)


def _fail(chain: str, message: str) -> UserError:
    return UserError(f"moog chain '{chain}': {message}")


def _parse_source(chain: str, cell: str, port: str, item: Any) -> Connection:
    if isinstance(item, str):
        return Connection(item, port)
    if isinstance(item, dict) and set(item) <= {"from", "optional"} and isinstance(item.get("from"), str):
        optional = item.get("optional", False)
        if not isinstance(optional, bool):
            raise _fail(chain, f"cell '{cell}' port '{port}': optional must be true or false")
        return Connection(item["from"], port, optional)
    raise _fail(
        chain,
        f"cell '{cell}' port '{port}': a source is a cell name or {{from: NAME, optional: true}}, "
        f"got {item!r}",
    )


def _parse_cell(chain: str, raw: Any, layer: int, channel: int) -> tuple[dict[str, Any], list[Connection]]:
    where = f"layer {layer}, channel {channel}"
    if not isinstance(raw, dict) or "name" not in raw or "type" not in raw:
        raise _fail(chain, f"{where}: a cell is a mapping with 'name' and 'type', got {raw!r}")
    name, kind = str(raw["name"]), str(raw["type"])
    if not NAME_PATTERN.match(name):
        raise _fail(
            chain, f"{where}: cell name '{name}' must be letters, digits and _ (starting with a letter)"
        )
    if kind not in MODULES:
        raise _fail(chain, f"cell '{name}': unknown type '{kind}'; available: {', '.join(sorted(MODULES))}")
    module = MODULES[kind]
    allowed = CELL_KEYS | set(module.ports) | set(module.defaults)
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise _fail(chain, f"cell '{name}' ({kind}) has unknown keys {unknown}; allowed: {sorted(allowed)}")
    connections: list[Connection] = []
    for port in module.ports:
        items = raw.get(port, [])
        if isinstance(items, str | dict):
            items = [items]
        if not isinstance(items, list):
            raise _fail(chain, f"cell '{name}' port '{port}': give a list of sources, got {items!r}")
        connections.extend(_parse_source(chain, name, port, item) for item in items)
    options = {k: raw[k] for k in raw if k in module.defaults or k == "ranges"}
    if "waveform" in options and (problem := check_waveform_option(options["waveform"])):
        raise _fail(chain, f"cell '{name}': {problem}")
    if "envelope" in options and not isinstance(options["envelope"], bool):
        raise _fail(chain, f"cell '{name}': envelope must be true or false")
    return {"name": name, "kind": kind, "options": options}, connections


def _check_ranges(chain: str, module: Module) -> None:
    ranges = module.options.get("ranges")
    if ranges is None:
        return
    params = {pd.param.name: pd.param for pd in module.param_defs()}
    if not isinstance(ranges, dict):
        raise _fail(chain, f"cell '{module.name}': ranges must map parameter names to [low, high]")
    for key, value in ranges.items():
        if key not in params or params[key].categorical:
            continuous = sorted(k for k, p in params.items() if not p.categorical)
            raise _fail(
                chain, f"cell '{module.name}': ranges names unknown parameter '{key}'; known: {continuous}"
            )
        ok = (
            isinstance(value, list | tuple)
            and len(value) == 2
            and all(isinstance(v, int | float) for v in value)
        )
        if not ok or not value[0] < value[1] or (params[key].scale == "log" and value[0] <= 0):
            raise _fail(
                chain,
                f"cell '{module.name}': range of '{key}' must be [low, high] with low < high"
                + (" and low > 0 (log scale)" if params[key].scale == "log" else "")
                + f", got {value!r}",
            )


def parse_chain(data: Any, name: str) -> Chain:
    """Validate a chain mapping (see the module docstring); every mistake is a UserError."""
    if not isinstance(data, dict) or not isinstance(data.get("layers"), list) or not data["layers"]:
        raise _fail(name, "a chain is a mapping with a non-empty 'layers' list (a list of lists of cells)")
    unknown = sorted(set(data) - {"layers", "description"})
    if unknown:
        raise _fail(name, f"unknown keys {unknown}; a chain has 'layers' and optionally 'description'")
    layer_of: dict[str, int] = {}
    parsed: list[tuple[dict[str, Any], list[Connection], int, int]] = []
    for layer, cells in enumerate(data["layers"]):
        if not isinstance(cells, list) or not cells:
            raise _fail(name, f"layer {layer} must be a non-empty list of cells")
        for channel, raw in enumerate(cells):
            info, connections = _parse_cell(name, raw, layer, channel)
            if info["name"] in layer_of:
                raise _fail(name, f"cell name '{info['name']}' is used twice")
            layer_of[info["name"]] = layer
            parsed.append((info, connections, layer, channel))

    fed: set[str] = set()
    cells_out: list[Cell] = []
    for info, connections, layer, channel in parsed:
        cell = info["name"]
        seen: set[str] = set()
        for conn in connections:
            if conn.source not in layer_of:
                raise _fail(name, f"cell '{cell}' takes input from unknown cell '{conn.source}'")
            if layer_of[conn.source] >= layer:
                raise _fail(
                    name,
                    f"cell '{cell}' (layer {layer}) takes input from '{conn.source}' "
                    f"(layer {layer_of[conn.source]}); a cell can only be fed by earlier layers",
                )
            if conn.source in seen:
                raise _fail(name, f"cell '{cell}' takes input from '{conn.source}' twice")
            seen.add(conn.source)
            fed.add(conn.source)
        module_cls = MODULES[info["kind"]]
        for port, (low, high) in module_cls.ports.items():
            count = sum(c.port == port for c in connections)
            if count < low or (high is not None and count > high):
                need = f"at least {low}" if high is None else f"{low} to {high}"
                raise _fail(
                    name, f"cell '{cell}' ({info['kind']}) needs {need} '{port}' sources, got {count}"
                )
        sources = {port: [c.source for c in connections if c.port == port] for port in module_cls.ports}
        module = module_cls(cell, info["options"], {p: s for p, s in sources.items() if s})
        _check_ranges(name, module)
        cells_out.append(Cell(module, layer, channel, tuple(connections)))

    last = len(data["layers"]) - 1
    dangling = [c.name for c in cells_out if c.layer < last and c.name not in fed]
    if dangling:
        raise _fail(
            name, f"cells {dangling} feed no other cell and are not in the last layer; connect or remove them"
        )
    description = str(data.get("description", ""))
    return Chain(name, description, tuple(cells_out))
