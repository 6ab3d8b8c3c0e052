"""``dx7_presets``: a corpus of DX7 presets (every bank and single voice under a folder), de-duplicated
by sound and split by bank, each preset played by the task's DX7-family synth.

    python -m benchmark run target=dx7_presets target.path=~/dx7_banks target.split=test \\
        synth=dx7 synth.algorithm=null

- **Reading**: every ``*.syx`` under ``path`` (recursively, sorted), a 32-voice bank or a single
  voice; a file that is not valid DX7 sysex is skipped with a warning naming it and counted
  (run tags ``soundmatch.skipped_files`` and ``soundmatch.skipped``); a voice of a sound file
  with a value outside its DX7 range (libraries hold many: 127 in a 0-99 field) is left out
  alone, counted (``soundmatch.corpus_bad_voices``) and named in one warning.
- **De-duplication** by the voice's sound: its 145 sound parameters (every value but the 10-character
  name), so a preset copied into many banks, or renamed, is one preset; it is kept in the bank whose
  content hash is lowest (a choice made from the content, not from file names or order).
- **Split by bank**: a bank (file) is in the test split for a ``test_fraction`` share of bank content
  hashes (seeded), so the test split holds banks never seen in training, and the split is a pure
  function of the files' content. ``corpus_hash`` (a tag of the run) names the de-duplicated corpus
  and split settings; the counts are tags too.
- **Targets**: each preset of the chosen split (``n`` of them drawn with ``seed``, or all) at every
  note of ``notes`` and velocity of ``velocities``; the preset's point in the synth's unit cube is
  the ground truth (``params``). With ``synth.algorithm=null`` each preset plays through its own
  algorithm; with a fixed one, through that one. Presets that render silent are left out.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from benchmark.run.targets.base import SILENCE_RMS, SuiteContext, TargetSuite, rms, suite_registry
from benchmark.run.targets.dx7_bank import slug
from benchmark.run.targets.recorded import check_split_options, split_of
from solvers.base import Target
from soundmatch.errors import UserError
from soundmatch.seeding import derive_seed
from synths.base import Note
from synths.dx7.family import require_dx7_family
from synths.dx7.sysex import read_each, voice_values
from synths.dx7.voice import Voice

SOUND_VALUES = 145  # of the 155 unpacked values, all but the 10-character name
TAG_LIMIT = 4000


def sound_key(voice: Voice) -> str:
    """A voice's identity by sound: a hash of its 145 sound parameters (the name left out)."""
    return hashlib.sha1(bytes(voice_values(voice)[:SOUND_VALUES])).hexdigest()


@dataclass
class Preset:
    """One de-duplicated preset: the voice, its bank file and content hash, its index there."""

    voice: Voice
    bank: Path
    bank_hash: str
    index: int
    key: str
    split: str = ""


@dataclass
class Corpus:
    """The presets of a folder after de-duplication, with what was skipped and the corpus hash."""

    presets: list[Preset]
    files: int
    voices_read: int
    skipped: list[tuple[str, str]] = field(default_factory=list)  # files: (file, why)
    bad_voices: list[tuple[str, str]] = field(default_factory=list)  # ("file voice i", why)

    @property
    def duplicates(self) -> int:
        return self.voices_read - len(self.presets)


def read_corpus(root: Path) -> Corpus:
    """Every DX7 voice under ``root``, de-duplicated by sound (see the module docstring)."""
    if not root.is_dir():
        raise UserError(f"target.path {root} is not a folder; name a folder of DX7 .syx banks")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() == ".syx" and p.is_file())
    if not files:
        raise UserError(f"no .syx files under {root}; a DX7 preset corpus is a folder of banks")
    found: dict[str, Preset] = {}
    skipped: list[tuple[str, str]] = []
    read = 0
    bad_voices: list[tuple[str, str]] = []
    for path in files:
        try:
            voices = read_each(path)
        except UserError as err:  # not DX7 sysex, damaged, a checksum off: counted, named, skipped
            skipped.append((str(path.relative_to(root)), str(err)))
            print(f"warning: skipped {path}: {err}", file=sys.stderr)
            continue
        bank_hash = hashlib.sha1(path.read_bytes()).hexdigest()
        for i, voice in enumerate(voices):
            if isinstance(voice, str):  # one voice out of range: that voice is left out, not the bank
                bad_voices.append((f"{path.relative_to(root)} voice {i}", voice))
                continue
            read += 1
            key = sound_key(voice)
            kept = found.get(key)
            if kept is None or (bank_hash, i) < (kept.bank_hash, kept.index):
                found[key] = Preset(voice, path, bank_hash, i, key)
    presets = sorted(found.values(), key=lambda p: (p.bank_hash, p.index))
    if bad_voices:
        shown = "; ".join(f"{where}: {why}" for where, why in bad_voices[:3])
        print(f"warning: left out {len(bad_voices)} voice(s) with values outside the DX7's ranges ({shown}"
              f"{' ...' if len(bad_voices) > 3 else ''})", file=sys.stderr)  # fmt: skip
    return Corpus(presets, len(files), read, skipped, bad_voices)


@suite_registry.register("dx7_presets")
@dataclass
class DX7PresetsSuite(TargetSuite):
    """A DX7 preset corpus (see the module docstring).

    Args:
        path: the folder of ``.syx`` banks and single voices.
        split: "all", "train" or "test" (by bank).
        test_fraction: share of banks in the test split.
        seed: seeds the split and the draw of ``n`` presets.
        n: at most this many presets, drawn with ``seed`` (null: all).
        notes: MIDI notes each preset is played at.
        velocities: velocities each preset is played at.
    """

    path: str | None = None
    split: str = "all"
    test_fraction: float = 0.2
    seed: int = 0
    n: int | None = None
    notes: list[float] = field(default_factory=lambda: [60.0])
    velocities: list[int] = field(default_factory=lambda: [100])
    tags: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    name = "dx7_presets"
    uses_synth = True
    label_keys = ("split",)

    def check_options(self) -> None:
        if not self.path:
            raise UserError("target=dx7_presets needs target.path=FOLDER (a folder of DX7 .syx banks)")
        check_split_options(self.split, self.test_fraction, self.n)
        if not self.notes or any(not 0 <= float(p) <= 127 for p in self.notes):
            raise UserError(f"target.notes must be MIDI notes 0-127, got {list(self.notes)}")
        if not self.velocities or any(not 1 <= int(v) <= 127 for v in self.velocities):
            raise UserError(f"target.velocities must be 1-127, got {list(self.velocities)}")

    def corpus_hash(self, corpus: Corpus) -> str:
        """Names the de-duplicated corpus and its split: its presets' sound keys and split settings."""
        text = "\n".join(p.key for p in corpus.presets) + f"\n{self.seed}:{self.test_fraction}"
        return hashlib.sha1(text.encode()).hexdigest()[:12]

    def targets(self, ctx: SuiteContext) -> list[Target]:
        self.check_options()
        require_dx7_family(ctx.synth, ctx.synth.name, "target=dx7_presets")
        corpus = read_corpus(Path(self.path).expanduser())  # type: ignore[arg-type]
        for p in corpus.presets:
            p.split = split_of(p.bank_hash, self.seed, self.test_fraction)
        chosen = [p for p in corpus.presets if self.split in ("all", p.split)]
        if self.n is not None and self.n < len(chosen):
            rng = np.random.default_rng(derive_seed(self.seed, "draw", self.name))
            chosen = [chosen[i] for i in np.sort(rng.choice(len(chosen), size=self.n, replace=False))]
        digest = self.corpus_hash(corpus)
        listing = "; ".join(f"{src}: {why}" for src, why in corpus.skipped)
        self.tags = {
            "soundmatch.corpus_hash": digest,
            "soundmatch.corpus_presets": str(len(corpus.presets)),
            "soundmatch.corpus_duplicates": str(corpus.duplicates),
            "soundmatch.corpus_banks": str(corpus.files - len(corpus.skipped)),
            "soundmatch.skipped_files": str(len(corpus.skipped)),
            "soundmatch.corpus_bad_voices": str(len(corpus.bad_voices)),
            "soundmatch.skipped": listing[:TAG_LIMIT],
        }
        print(
            f"dx7_presets: {len(corpus.presets)} presets ({corpus.duplicates} duplicates dropped) from "
            f"{corpus.files - len(corpus.skipped)} banks, {len(corpus.skipped)} files skipped; corpus "
            f"{digest}; {len(chosen)} in split '{self.split}'",
            file=sys.stderr,
        )
        if not chosen:
            raise UserError(f"no preset of {self.path} is in split '{self.split}'; try target.split=all")
        x = torch.stack([ctx.synth.voice_to_unit(p.voice).reshape(-1).float() for p in chosen])  # type: ignore[attr-defined]
        targets = []
        for pitch in self.notes:
            for velocity in self.velocities:
                note = Note(float(pitch), int(velocity))
                with torch.no_grad():
                    audio = ctx.synth.render(
                        x.to(ctx.device), sample_rate=ctx.sample_rate, duration=ctx.duration, note=note
                    ).cpu()
                audible = rms(audio) > SILENCE_RMS
                for k, p in enumerate(chosen):
                    if not audible[k]:
                        continue
                    name = f"{slug(p.voice.name)}-{p.key[:8]}-n{float(pitch):g}v{int(velocity)}"
                    meta = {"bank": str(p.bank), "bank_hash": p.bank_hash[:12], "voice": p.index,
                            "voice_name": p.voice.name.strip(), "split": p.split,
                            "corpus_hash": digest}  # fmt: skip
                    targets.append(Target(audio[k], ctx.sample_rate, name, note=note, params=x[k], meta=meta))
        if not targets:
            raise UserError(f"every chosen preset of {self.path} renders silent; check notes and duration")
        return targets

    def run_tags(self) -> dict[str, str]:
        return dict(self.tags)

