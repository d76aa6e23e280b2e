"""The per-container supervisor that outlives its caller (layer L4).

One monitor process per running container, measured at about 0.16 MB PSS (containerd-shim:
2.9 MB, conmon: 0.39 MB; ``bench/fig_monitor.py``). Its life (see :mod:`.launcher`)::

    engine --fork--> A --setsid, fork--> M: subreaper; Spawner.create -> init (blocked)
    M --pid--> engine (network, cgroups)  --go--> M: Spawner.start; execve(dockernb-monitor)
    C supervisor (same pid): json-file log, attach socket, reaps, writes exit.json, then
    exits or execs ``python -m dockernb.monitor post-exit`` (--rm, restart policy, cleanup)

Modules: :mod:`.launcher` (engine side and M side), ``dockernb-monitor.c`` and :mod:`.build`
(the C supervisor, compiled on first use), :mod:`.pysupervisor` (its Python twin, without a
compiler), :mod:`.spawner` (the seam to the runtime), :mod:`.attach` (the client of the
attach socket, detach keys), :mod:`.postexit` and :mod:`.restart` (after a run),
:mod:`.reconcile` (the real state: exit record folded in, dead monitors noticed).

How the engine's verbs use it (integration phase), each under ``ContainerStore.lock``:

- start/run: ``generation = state.generation + 1``; ``Launcher().launch(paths, spawner,
  postexit.monitor_options(store, record, generation, hooks))`` -> ``PendingStart``; network
  and cgroup setup with ``pending.pid``; for an attached run ``AttachClient.connect`` now;
  ``pending.start()`` (raises CommandNotFound/CommandNotExecutable: record START_FAILED with
  exit code 127/126 and docker's error); then transition START with the ``Started`` pids.
  ``spawn.json`` holds the SpawnSpec that rebuilds the spawner for restarts.
- stop/kill/restart: set ``manually_stopped`` (no restart) then signal through the runtime;
  wait by polling :func:`.reconcile.effective` (the monitor writes exit.json after the last
  log line, then the post-exit handler folds it into state.json).
- wait: poll ``effective`` until not running (or use inotify on the container directory).
- logs: ``dockernb.logs.reader.read_logs(paths.log, tail=, since_ns=, until_ns=, follow=,
  done=lambda: effective(store, id).status not in running)``; ``LogReadingUnsupported`` for
  ``--log-driver none``; rendering in ``dockernb.present.logs``.
- attach: ``AttachClient.connect(paths, stdin=...)``; frames; ``exit_code`` at the end;
  ``DetachScanner`` on the user's input; ``resize`` on SIGWINCH.
- ps/inspect: ``store.list()`` + ``effective`` (read only, no lock); rendering in
  ``dockernb.present.containers``.
- any verb that finds a dead monitor: ``reconcile(store, id, kill=<runtime delete>)``.
- rm: refuse live ones unless forced (``can_remove``); kill, wait, runtime delete, store.delete.
"""
