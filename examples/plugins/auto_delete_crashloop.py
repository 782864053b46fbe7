#!/usr/bin/env python3
"""A capsize policy plug-in in Python (standard library only).

It does what the built-in policy `auto-delete-crashloop` does
(scenarios/policies/subpath-configmap/auto-delete-crashloop.yaml): delete every pod that is in
CrashLoopBackOff with a subPath mount error after at least 5 restarts, once per time the pod
enters that status. On the subpath-configmap scenario it gives the same results, byte for byte
(tests/tests/plugins.rs checks it).

The protocol (docs/plugin-protocol.md): capsize writes one JSON object per line on stdin, an
observation of the cluster; the plug-in answers each with one JSON object per line on stdout,
the actions to take. stdin closes at the end of the run. Write logs to stderr, never stdout.
"""

import json
import sys

STATUS = "CrashLoopBackOff"
MESSAGE = "volume-subpaths"
MIN_RESTARTS = 5


def decide(observation, handled):
    """The actions for one observation; `handled` remembers each (pod, status start) acted on."""
    actions = []
    for pod in observation["pods"]:  # in the order kubectl lists them
        stuck = (
            pod["status"] == STATUS
            and pod["restarts"] >= MIN_RESTARTS
            and MESSAGE in (pod["message"] or "")
        )
        key = (pod["name"], pod["status_since_ms"])
        if stuck and key not in handled:
            handled.add(key)
            if pod["status"] != "Terminating":
                actions.append({"deletePod": {"pod": pod["name"], "force": False}})
    return actions


def main():
    handled = set()
    for line in sys.stdin:
        observation = json.loads(line)
        if observation.get("protocol") != 1:
            print(f"unexpected protocol {observation.get('protocol')}", file=sys.stderr)
            return 1
        answer = {"actions": decide(observation, handled)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
