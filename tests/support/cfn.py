"""Readers of a synthesized CDK app: its template's resources, intrinsics as readable
strings, IAM statements by Sid, the workers' container, the alarms."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the infra package is importable once tests/infra/conftest.py put it on sys.path
    import aws_cdk as cdk
    from aws_cdk.assertions import Template
    from kinesis_aggs_infra.config import InfraConfig
    from kinesis_aggs_infra.stack import ConsumerStack


@dataclass
class Synth:
    """One synthesized app: its config, stack, template and cloud assembly directory."""

    name: str
    cfg: InfraConfig
    app: cdk.App
    stack: ConsumerStack
    template: Template
    outdir: Path

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.to_json()["Resources"]

    def of_type(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == cfn_type}

    def one(self, cfn_type: str) -> tuple[str, dict[str, Any]]:
        found = self.of_type(cfn_type)
        assert len(found) == 1, f"{self.name}: {len(found)} x {cfn_type}"
        return next(iter(found.items()))

    def owned(self, cfn_type: str, construct: str) -> tuple[str, dict[str, Any]]:
        """The one resource of a type below a top-level construct ("Workers", "Finalizer")."""
        found = {k: v for k, v in self.of_type(cfn_type).items() if k.startswith(construct)}
        assert len(found) == 1, f"{self.name}: {len(found)} x {cfn_type} in {construct}"
        return next(iter(found.items()))

    def validation_report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())


def flat(value: Any) -> Any:
    """Intrinsics as readable strings: {"Ref": "X"} -> "${X}", Fn::Join joined, GetAtt -> ${L.Attr}."""
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref":
            return f"${{{arg}}}"
        if fn == "Fn::GetAtt":
            return f"${{{arg[0]}.{arg[1]}}}"
        if fn == "Fn::Join":
            return arg[0].join(str(flat(part)) for part in arg[1])
        if fn == "Fn::Sub":
            return arg
    if isinstance(value, list):
        return [flat(v) for v in value]
    return value


def statements(s: Synth, policy_prefix: str) -> dict[str, dict[str, Any]]:
    """Statements of the one IAM policy whose logical id starts with ``policy_prefix``, by Sid."""
    found = {k: v for k, v in s.of_type("AWS::IAM::Policy").items() if k.startswith(policy_prefix)}
    assert len(found) == 1, list(found)
    out = {}
    for i, st in enumerate(next(iter(found.values()))["Properties"]["PolicyDocument"]["Statement"]):
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        out[st.get("Sid", str(i))] = {"actions": sorted(actions), "resources": sorted(map(flat, resources)),
                                      "condition": st.get("Condition"), "effect": st["Effect"]}
    return out


def logical_id(s: Synth, construct: Any) -> str:
    return s.stack.resolve(s.stack.get_logical_id(construct.node.default_child))


def container(s: Synth) -> dict[str, Any]:
    """The workers' one container definition."""
    _, task = s.owned("AWS::ECS::TaskDefinition", "Workers")
    (c,) = task["Properties"]["ContainerDefinitions"]
    return c


def alarms_of(s: Synth) -> dict[str, dict[str, Any]]:
    """The Observability construct's alarms' properties, by their name in the construct."""
    return {k.removeprefix("Observability")[:-8]: v["Properties"]
            for k, v in s.of_type("AWS::CloudWatch::Alarm").items() if k.startswith("Observability")}


def strings_in(doc: Any) -> list[str]:
    """Every string in a JSON document, depth first."""
    if isinstance(doc, str):
        return [doc]
    if isinstance(doc, dict):
        return [s for v in doc.values() for s in strings_in(v)]
    if isinstance(doc, list):
        return [s for v in doc for s in strings_in(v)]
    return []
