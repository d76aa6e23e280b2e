"""The Dockerfile builder and its layer cache (layer L5).

Modules, in the order a build uses them:

- ``context``: the build context (directory, tar stream, or text + directory), the selection
  after .dockerignore (``dockerignore``), docker's content checksums, COPY source resolution;
- ``parse``: Dockerfile text -> typed instructions on BuildKit's tokenizer, docker's errors;
- ``plan``: stages, ``--target``, ``--label``, step counts, docker's records of each step;
- ``expand``: ``${VAR}`` substitution and ARG scoping;
- ``builder``: the flow (cache lookups, image configs, events), over an ``executor.Executor``
  (the seam the images/runtime side implements; ``dockernb.testing.FakeExecutor`` for tests);
- ``apply``: config-only instructions, shared with ``commit --change``;
- ``image``: the image config JSON a build writes; ``cache``: step key -> image id on disk.
"""
