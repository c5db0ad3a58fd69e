"""Read the Dockerfile the way the checks need it: stages, final-stage instructions, env."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, instruction: str) -> list[str]:
        return [v for i, v in self.instructions if i == instruction]

    def last(self, instruction: str) -> str | None:
        found = self.all(instruction)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for value in self.all("ENV"):
            for token in shlex.split(value):
                key, _, val = token.partition("=")
                out[key] = val
        return out


def stages(path: Path = ROOT / "Dockerfile") -> list[Stage]:
    parser = DockerfileParser(str(path))
    args = {}
    out: list[Stage] = []
    for item in parser.structure:
        ins, val = item["instruction"], item["value"]
        if ins == "ARG" and not out:
            name, _, default = val.partition("=")
            args[name] = default
        elif ins == "FROM":
            parts = val.split()
            base = parts[0]
            for k, v in args.items():
                base = base.replace("${" + k + "}", v)
            name = parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else str(len(out))
            out.append(Stage(name, base))
        elif out and ins != "COMMENT":
            out[-1].instructions.append((ins, val))
    return out


def exec_form(value: str | None) -> list[str] | None:
    """The JSON array of an exec-form ENTRYPOINT/CMD, or None for the shell form."""
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed) else None


def healthcheck_command(value: str) -> list[str] | None:
    _, _, cmd = value.partition("CMD")
    return exec_form(cmd.strip())


def copy_sources(stage: Stage) -> list[str]:
    """Build-context sources of COPY/ADD (not --from copies)."""
    out = []
    for ins, val in stage.instructions:
        if ins not in ("COPY", "ADD"):
            continue
        parts = [p for p in shlex.split(val) if not p.startswith("--")]
        if any(p.startswith("--from") for p in shlex.split(val)):
            continue
        out += parts[:-1]
    return out
