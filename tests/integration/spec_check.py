"""Property checks of Engine API operations against the v1.41 spec, with schemathesis.

``check(base_url)`` generates requests (valid and invalid) for each operation, sends them,
and returns the distinct failures per operation id: 5xx answers, undocumented statuses,
responses that break the spec's schemas. The same function measured dockerd 20.10 (see
``DOCKERD_DEVIATIONS`` in test_apiserver_spec.py)::

    python -m tests.integration.spec_check http://127.0.0.1:PORT/v1.41 [OperationId ...]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, openapi
from schemathesis.core.failures import Failure, FailureGroup

SPEC = Path(os.environ.get("DOCKERNB_SPEC",
                           Path(__file__).resolve().parents[3] / "shared/specs/docker-engine-api-v1.41.yaml"))

#: the operations dockernb serves now; later endpoint suites extend this tuple
SYSTEM_OPERATIONS = ("SystemPing", "SystemPingHead", "SystemVersion", "SystemInfo", "SystemEvents")


def _key(failure: Any) -> str:
    path = "/".join(str(p) for p in (getattr(failure, "instance_path", None) or ()))
    detail = getattr(failure, "validation_message", None) or str(getattr(failure, "message", "")).split("\n", 1)[0]
    return f"{failure.title}: /{path}: {detail}" if path else f"{failure.title}: {detail}"


def check(base_url: str, operations: Sequence[str] = SYSTEM_OPERATIONS, *,
          max_examples: int = 25) -> dict[str, set[str]]:
    schema = openapi.from_path(str(SPEC))
    found: dict[str, set[str]] = {}
    for op_id in operations:
        op = schema.find_operation_by_id(op_id)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                strategy = op.as_strategy(generation_mode=mode)
            except Exception:  # nothing to make invalid (no parameters)
                continue

            @given(case=strategy)
            @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            def run(case: Any) -> None:
                if case.path == "/events":
                    # a stream without `until` never ends; keep every generated value otherwise
                    case.query = {**(case.query or {})}
                    if not case.query.get("until"):
                        case.query["until"] = "1"
                response = case.call(base_url=base_url, timeout=15)
                try:
                    case.validate_response(response)
                except FailureGroup as group:
                    found.setdefault(case.operation.definition.raw["operationId"], set()).update(
                        _key(f) for f in group.exceptions)
                except Failure as failure:
                    found.setdefault(case.operation.definition.raw["operationId"], set()).add(_key(failure))

            try:
                run()
            except Unsatisfiable:
                if mode is GenerationMode.POSITIVE:
                    raise
                # no parameters to make invalid: there is no negative case for this operation
            except Exception as err:  # generation trouble is a finding too, never a silent pass
                found.setdefault(op_id, set()).add(f"could not run ({mode.value}): {type(err).__name__}: {err}")
    return found


if __name__ == "__main__":
    result = check(sys.argv[1], sys.argv[2:] or SYSTEM_OPERATIONS)
    for op_id, failures in sorted(result.items()):
        print(op_id)
        for f in sorted(failures):
            print("   ", f)
    print("no failures" if not result else f"{sum(map(len, result.values()))} distinct failures")
