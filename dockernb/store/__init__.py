"""On-disk plumbing: the root directory layout, atomic JSON writes and file locks (layer L1).

``layout.Layout`` is the only place that builds paths under a state root; ``atomic`` writes
files so that a crash leaves the old or the new content, never half of one; ``locks`` gives
flock(2)-based locks that several processes sharing one root (a kernel, a CLI, the API
server) respect.
"""
