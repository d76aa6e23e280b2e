"""Access to ../shared/golden: what docker 20.10 printed and exited with, per case id.

``expected(case_id)`` gives the transcript with docker's program name replaced by dockernb's
in the places where docker prints its own name (``docker: ``, ``'docker run --help'``, ...).
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

GOLDEN = Path(os.environ.get("DOCKERNB_GOLDEN", Path(__file__).resolve().parents[2] / "shared/golden"))
GOLDEN_FILE = GOLDEN / "docker-20.10-transcripts.json"


@cache
def _cases() -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in json.loads(GOLDEN_FILE.read_text())}


def rename(text: str) -> str:
    text = re.sub(r"(^|\n)docker: ", r"\1dockernb: ", text)
    text = re.sub(r"'docker ", "'dockernb ", text)
    text = re.sub(r'"docker ', '"dockernb ', text)
    text = re.sub(r"Usage:  docker ", "Usage:  dockernb ", text)
    text = text.replace("is not a docker command", "is not a dockernb command")
    return text


def expected(case_id: str) -> dict[str, Any]:
    case = dict(_cases()[case_id])
    case["stdout"] = rename(case["stdout"])
    case["stderr"] = rename(case["stderr"])
    return case


def available() -> bool:
    return GOLDEN_FILE.is_file()
