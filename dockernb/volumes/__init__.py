"""Named volumes and the local driver (layer L3): see :mod:`dockernb.volumes.store`."""
