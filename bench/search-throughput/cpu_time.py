"""Runs a command and prints one JSON line with its process CPU time (user + system of the
process and its threads, from wait4's rusage), wall time, exit status and the load average
before and after (the machine is shared: the load says how much the wall time waited).

usage: cpu_time.py OUT.json COMMAND [ARGS...]
"""
import json
import os
import resource
import subprocess
import sys
import time


def main():
    out, cmd = sys.argv[1], sys.argv[2:]
    load0 = os.getloadavg()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    rc = subprocess.run(cmd).returncode
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = {"rc": rc, "wall_s": wall, "user_s": r1.ru_utime - r0.ru_utime,
           "sys_s": r1.ru_stime - r0.ru_stime, "max_rss_mb": r1.ru_maxrss / 1024,
           "load_before": load0, "load_after": os.getloadavg()}
    res["cpu_s"] = res["user_s"] + res["sys_s"]
    with open(out, "w") as f:
        json.dump(res, f)
        f.write("\n")
    sys.exit(rc)


if __name__ == "__main__":
    main()
