#!/usr/bin/env python3
"""tests/integration/agent_user_sched.py — a one-task scheduler on the v1
scheduler API (JSON over HTTP, RecordIO events), for agent_user.sh: it
launches one shell task with CommandInfo.user and, optionally, a
ContainerInfo.rlimit_info with one RLMT_NOFILE limit and a URI to fetch,
acknowledges every update, prints each as "update STATE: MESSAGE" and exits
0 after the first terminal one (1 on a timeout or a broken stream).

Usage: agent_user_sched.py MASTER_HOST:PORT USER COMMAND [--nofile=SOFT:HARD] [--uri=URI]
       (USER "-": no CommandInfo.user; the framework's user is root)
"""
import http.client
import json
import signal
import sys

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST",
            "TASK_DROPPED", "TASK_GONE"}


def main():
    if len(sys.argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    host, port = sys.argv[1].rsplit(":", 1)
    user, command = sys.argv[2], sys.argv[3]
    nofile = None
    uri = None
    for arg in sys.argv[4:]:
        if arg.startswith("--nofile="):
            soft, hard = arg[len("--nofile="):].split(":")
            nofile = (int(soft), int(hard))
        elif arg.startswith("--uri="):
            uri = arg[len("--uri="):]
        else:
            sys.stderr.write("unknown argument %r\n%s" % (arg, __doc__))
            return 2
    signal.alarm(60)  # never hang a test run

    sub = http.client.HTTPConnection(host, int(port), timeout=60)
    body = {"type": "SUBSCRIBE",
            "subscribe": {"framework_info": {"user": "root", "name": "agent-user-test"}}}
    sub.request("POST", "/api/v1/scheduler", json.dumps(body),
                {"Content-Type": "application/json", "Accept": "application/json"})
    resp = sub.getresponse()
    if resp.status != 200:
        print("subscribe: HTTP %d %s" % (resp.status, resp.read().decode(errors="replace")))
        return 1
    stream_id = resp.getheader("Mesos-Stream-Id")
    framework_id = None
    launched = False

    def call(c):
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        c["framework_id"] = {"value": framework_id}
        conn.request("POST", "/api/v1/scheduler", json.dumps(c),
                     {"Content-Type": "application/json", "Mesos-Stream-Id": stream_id})
        r = conn.getresponse()
        r.read()
        conn.close()
        if r.status != 202:
            print("call %s: HTTP %d" % (c["type"], r.status))

    while True:
        size_text = b""
        while not size_text.endswith(b"\n"):
            ch = resp.read(1)
            if not ch:
                print("event stream ended")
                return 1
            size_text += ch
        event = json.loads(resp.read(int(size_text)))
        kind = event.get("type")
        if kind == "SUBSCRIBED":
            framework_id = event["subscribed"]["framework_id"]["value"]
        elif kind == "OFFERS":
            for offer in event["offers"]["offers"]:
                if launched:
                    call({"type": "DECLINE", "decline": {"offer_ids": [offer["id"]]}})
                    continue
                launched = True
                cmd = {"shell": True, "value": command}
                if user != "-":
                    cmd["user"] = user
                if uri is not None:
                    cmd["uris"] = [{"value": uri}]
                task = {"name": "user-task", "task_id": {"value": "user-task"},
                        "agent_id": offer["agent_id"], "command": cmd,
                        "resources": [
                            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}]}
                if nofile is not None:
                    task["container"] = {"type": "MESOS", "rlimit_info": {"rlimits": [
                        {"type": "RLMT_NOFILE", "soft": nofile[0], "hard": nofile[1]}]}}
                call({"type": "ACCEPT", "accept": {
                    "offer_ids": [offer["id"]],
                    "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}]}})
        elif kind == "UPDATE":
            status = event["update"]["status"]
            state = status["state"]
            print("update %s: %s" % (state, status.get("message", "")), flush=True)
            if "uuid" in status:
                call({"type": "ACKNOWLEDGE", "acknowledge": {
                    "agent_id": status["agent_id"], "task_id": status["task_id"],
                    "uuid": status["uuid"]}})
            if state in TERMINAL:
                call({"type": "TEARDOWN"})
                return 0


if __name__ == "__main__":
    sys.exit(main())
