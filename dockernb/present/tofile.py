"""docker's CopyToFile for ``-o FILE`` outputs (``save``, ``export``): layer L7 (present).

The bytes go to a temp file beside the target, renamed over it once complete, so a failed or
interrupted save never leaves a half-written file under the asked name; the file system's errors are
said as Go's (``open PATH: no such file or directory``, ``write PATH: no space left on device``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from typing import BinaryIO

from dockernb.present.context import Context


def copy_to_file(ctx: Context, target: str, write: Callable[[BinaryIO], None]) -> int:
    """Run ``write(f)`` into a temp file renamed to ``target``; 1 with docker's words on a file error."""
    target = os.path.abspath(target)
    try:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".docker_temp_")
    except OSError as err:
        ctx.eprint(f"open {err.filename or target}: {(err.strerror or str(err)).lower()}")
        return 1
    try:
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
        except OSError as err:  # a full disk, a quota
            ctx.eprint(f"write {tmp}: {(err.strerror or str(err)).lower()}")
            os.unlink(tmp)
            return 1
        os.chmod(tmp, 0o644)  # docker's CopyToFile leaves the file with the umask's mode
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return 0
