"""``python -m dikte.runtimes.ray.start_host ADDRESS NAME NODE_IP SETTINGS_JSON MIN-MAX``: start node
NAME's host on the cluster at ADDRESS (or find the one running) and print its info as JSON.
``--shutdown-all ADDRESS``: ask every node host to end its runtimes, and end the hosts.

A process of its own, so that the ``dikte cluster`` command that calls it can run it inside the
cluster's network (``nsenter``) and so that its Ray driver ends with it."""

from __future__ import annotations

import json
import logging
import sys
import time

import ray
from ray.exceptions import RayActorError

from dikte.runtimes.ray.actors import HOST_PREFIX, NAMESPACE, start_host

TIMEOUT = 120.0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--shutdown-all"]:
        ray.init(address=argv[1], namespace=NAMESPACE, log_to_driver=False,
                 logging_level=logging.WARNING)
        for name in ray.util.list_named_actors():
            if name.startswith(HOST_PREFIX):
                host = ray.get_actor(name, namespace=NAMESPACE)
                try:
                    ray.get(host.shutdown.remote(), timeout=60)
                finally:
                    ray.kill(host)
        return 0
    address, name, node_ip, settings, span = argv
    low, _, high = span.partition("-")
    ports = (int(low), int(high) + 1)
    ray.init(address=address, namespace=NAMESPACE, log_to_driver=False,
             logging_level=logging.WARNING)
    host = start_host(name, node_ip, json.loads(settings), ports)
    try:
        info = ray.get(host.info.remote(), timeout=TIMEOUT)
    except RayActorError:
        # the host of an earlier node of this name, whose machine died a moment ago: the
        # cluster has not let go of its name yet
        ray.kill(host)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                ray.get_actor(HOST_PREFIX + name, namespace=NAMESPACE)
            except ValueError:
                break
            time.sleep(0.2)
        host = start_host(name, node_ip, json.loads(settings), ports)
        info = ray.get(host.info.remote(), timeout=TIMEOUT)
    print(json.dumps(info), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
