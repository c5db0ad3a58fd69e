"""Start-up check: the tables exist and have the key schema the writers rely on."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from consumer_app.tables import TableSpec


class TableProblem(RuntimeError):
    pass


def actual_key_schema(desc: dict[str, Any]) -> dict[str, str]:
    types = {a["AttributeName"]: a["AttributeType"] for a in desc.get("AttributeDefinitions", [])}
    return {k["AttributeName"]: f"{k['KeyType']} {types.get(k['AttributeName'], '?')}"
            for k in desc.get("KeySchema", [])}


def check_table(client: Any, name: str, spec: TableSpec) -> None:
    """Raise :class:`TableProblem` naming the table, the expected and the actual schema."""
    expected = spec.key_schema()
    try:
        desc = client.describe_table(TableName=name)["Table"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "ResourceNotFoundException":
            raise TableProblem(f"table {name!r} does not exist; expected key schema {expected}") from None
        raise TableProblem(f"table {name!r}: cannot describe it ({code}): {exc}") from None
    actual = actual_key_schema(desc)
    if actual != expected:
        lab_table = "windowStart" in expected and "windowStart" not in actual
        raise TableProblem(f"table {name!r} has key schema {actual}; expected {expected}"
                           + (" (the original lab's kinesisAggs has a partition key only and "
                              "cannot hold per-window history: use another AGGREGATES_TABLE or "
                              "recreate it)" if lab_table else ""))
    status = desc.get("TableStatus")
    if status not in ("ACTIVE", "UPDATING"):
        raise TableProblem(f"table {name!r} is {status}, not ACTIVE")
