"""The Docker kernel: notebook cells are bash, and ``docker`` in them runs in the kernel's engine (top layer).

``python -m dockernb.kernel install [--user|--sys-prefix]`` installs the kernel spec
"Docker (dockernb)". A cell is sourced by one persistent bash (pexpect), so ``cd``, files and
exported variables persist from cell to cell. ``docker`` in that bash (a function, and an
executable of the same name for ``xargs``/``find -exec``) hands its expanded argv, ``$PWD`` and
its stdin/stdout/stderr file descriptors to the kernel over a unix socket (:mod:`.bridge`);
the kernel runs the line with the shared grammar (:func:`dockernb.notebook.session.run_docker`).
A whole-line command (stdout is the terminal) renders with the notebook's widgets; one in a
pipeline or ``$(...)`` writes the CLI's text to its pipe, so ``docker ps -q | wc -l`` and
``for c in $(docker ps -aq); do ...; done`` work as in a terminal.
"""
