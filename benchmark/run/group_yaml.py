"""Group YAML written from the code: an entry's defaults live once, in its dataclass fields or
constructor keywords, and ``conf/<group>/<name>.yaml`` is generated from them.

    make conf                                      # rewrite conf/*/ from the code
    python -m benchmark.cli.sync_conf check=true   # exit 1 naming every file the code would change

Hydra needs a YAML per group choice (an option it has not seen cannot be set on
the command line), and the YAML is where a reader browses the options with their
units. So the files stay, but their values are the code's: :func:`group_yaml`
keeps a file's comments and its order, writes each option's value from the
code, drops options the code no longer has and appends the ones it lacks, each
with the meaning its docstring's ``Args:`` gives. A plugin without a file gets
one the same way at run time (:func:`benchmark.run.app.write_plugin_configs`).

Files that are *presets* of another entry (``name:`` names another entry, or
they have ``defaults:``: ``conf/synth/dx7_flute.yaml``) are their own source
and are left alone; so are a run-level setting a group file may hold that no
constructor has (``hold: auto``, read per target by the runner).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from soundmatch.registry import Registry, option_defaults, option_help

YAML_VALUES = (bool, int, float, str, list, dict, type(None))
NOT_OPTIONS = ("sample_rate",)  # set by the run for every entry, not per group
RUN_SETTINGS = {"hold": "auto"}  # a group file's setting the runner reads, not a constructor's
COMMENT_COLUMN = 21  # where a value's comment starts, as the hand-written files have it
_KEY = re.compile(r"^([A-Za-z_]\w*):(.*)$")


def yaml_options(factory: Any) -> dict[str, Any]:
    """The options of a registry entry a YAML file can hold, with their code defaults."""
    return {k: v for k, v in option_defaults(factory).items()
            if k not in NOT_OPTIONS and isinstance(v, YAML_VALUES)}  # fmt: skip


def flow(value: Any) -> str:
    """``value`` as one line of YAML (``null``, ``true``, ``0.3``, ``[a, b]``, ``{}``)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    return text.removesuffix("...").strip()


def _line(key: str, value: Any, comment: str) -> str:
    head = f"{key}: {flow(value)}"
    return f"{head.ljust(COMMENT_COLUMN - 1)} # {comment}" if comment else head


def _entries(text: str) -> list[tuple[str | None, list[str]]]:
    """``text`` as top-level blocks: ``(key, lines)`` for an option with its indented lines (a block
    value, continued comments), ``(None, lines)`` for comments and blank lines between them."""
    blocks: list[tuple[str | None, list[str]]] = []
    for line in text.splitlines():
        found = _KEY.match(line)
        if found:
            blocks.append((found.group(1), [line]))
        elif line.startswith((" ", "\t")) and blocks and blocks[-1][0] is not None:
            blocks[-1][1].append(line)
        else:
            blocks.append((None, [line]))
    return blocks


def group_yaml(name: str, factory: Any, text: str | None = None) -> str:
    """The YAML of registry entry ``name`` with every value from the code (:func:`yaml_options`):
    ``text``'s comments and order kept, values the code disagrees with rewritten (a trailing
    comment kept), options it lacks dropped, missing ones appended with the meaning the entry's
    docstring gives (:func:`soundmatch.registry.option_help`)."""
    options = yaml_options(factory)
    helps = option_help(factory)
    out: list[str] = []
    seen = set()
    for key, lines in _entries(text or ""):
        if key is None:
            out += lines
            continue
        if key == "name" or RUN_SETTINGS.get(key, object()) == yaml.safe_load(lines[0].split(":", 1)[1]):
            out += lines
            seen.add(key)
            continue
        if key not in options:
            continue  # an option the code does not have any more
        seen.add(key)
        value = (yaml.safe_load("\n".join(lines)) or {}).get(key)
        if value == options[key] and type(value) is type(options[key]):
            out += lines
            continue
        comment = lines[0].split(" #", 1)[1].strip() if " #" in lines[0] else helps.get(key, "")
        out.append(_line(key, options[key], comment))
        out += [ln for ln in lines[1:] if ln.strip().startswith("#")]  # continued comments stay
    if "name" not in seen:
        out.insert(next((i for i, ln in enumerate(out) if not ln.startswith("#")), len(out)), f"name: {name}")
    out += [_line(k, v, helps.get(k, "")) for k, v in options.items() if k not in seen]
    return "\n".join(out).rstrip("\n") + "\n"


def is_preset(path: Path) -> bool:
    """A file that is a preset of another entry (its ``name:`` is another's, or it has ``defaults:``)."""
    body = yaml.safe_load(path.read_text()) or {}
    return body.get("name", path.stem) != path.stem or "defaults" in body


def sync(conf_dir: Path, groups: dict[str, Registry], write: bool) -> list[Path]:
    """Every entry's group file under ``conf_dir/<group>/`` (``groups``: group -> registry) made
    from the code, written when ``write``; returns the files that were (or would be) changed."""
    changed = []
    for group, registry in groups.items():
        for path in sorted((conf_dir / group).glob("*.yaml")):
            if path.stem not in registry or is_preset(path):
                continue
            factory = registry.get(path.stem)
            text = path.read_text()
            new = group_yaml(path.stem, factory, text)
            if new != text:
                changed.append(path)
                if write:
                    path.write_text(new)
    return changed
