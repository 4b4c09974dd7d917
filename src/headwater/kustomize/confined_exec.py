"""Run one program confined by Landlock and resource limits: the launcher of the kustomize child.

Why a separate process and not `preexec_fn`: the controller is multi-threaded (builds run in worker
threads), and running Python between `fork` and `exec` of a multi-threaded process can deadlock. This
file is run as `python -I -S confined_exec.py <json policy> <argv...>` (standard library only, no
site-packages), so it is a fresh single-threaded process: it sets the limits, restricts itself with
Landlock, and `exec`s the program, which inherits both.

Landlock (Linux 5.13+, unprivileged) restricts which file hierarchies a process may read, write or
execute, and (ABI 4+) which TCP ports it may connect to. When the kernel lacks it the policy's
`require_landlock` decides: refuse to run (exit 126 with a message), or run with the limits only.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446  # the same on every Linux arch
PR_SET_NO_NEW_PRIVS = 38
RULE_PATH_BENEATH, RULE_NET_PORT = 1, 2
CREATE_RULESET_VERSION = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
WRITE_TREE = sum(1 << bit for bit in range(1, 13)) & ~(READ_FILE | READ_DIR)  # remove/make anything
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1

ACCESS = {"read": READ_FILE | READ_DIR, "exec": EXECUTE | READ_FILE | READ_DIR,
          "write": READ_FILE | READ_DIR | WRITE_FILE | WRITE_TREE}


class RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64)]


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


def landlock_abi(libc: ctypes.CDLL) -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is unavailable."""
    version = int(libc.syscall(SYS_CREATE_RULESET, None, 0, CREATE_RULESET_VERSION))
    return max(version, 0)


def restrict(libc: ctypes.CDLL, abi: int, paths: dict[str, str], deny_network: bool) -> None:
    """Allow `paths` ({path: read|exec|write}) and nothing else on the file system; no TCP if asked."""
    handled = EXECUTE | READ_FILE | READ_DIR | WRITE_FILE | WRITE_TREE
    if abi >= 2:
        handled |= REFER
    if abi >= 3:
        handled |= TRUNCATE
    if abi >= 5:
        handled |= IOCTL_DEV
    attr = RulesetAttr(handled, (NET_BIND_TCP | NET_CONNECT_TCP) if deny_network and abi >= 4 else 0)
    ruleset = int(libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.sizeof(attr), 0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    for path, mode in paths.items():
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue  # a path this machine lacks needs no rule
        allowed = ACCESS[mode] | (REFER | TRUNCATE if mode == "write" else 0)
        if not os.path.isdir(path):
            allowed &= EXECUTE | READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV
        allowed &= handled
        rule = PathBeneathAttr(allowed, fd)
        if int(libc.syscall(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.byref(rule), 0)) < 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
        os.close(fd)
    if int(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if int(libc.syscall(SYS_RESTRICT_SELF, ruleset, 0)) != 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    os.close(ruleset)


def main(argv: list[str]) -> None:
    policy = json.loads(argv[1])
    program = argv[2:]
    resource.setrlimit(resource.RLIMIT_AS, (policy["memory_bytes"], policy["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_CPU, (policy["cpu_seconds"], policy["cpu_seconds"] + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    libc = ctypes.CDLL(None, use_errno=True)
    abi = landlock_abi(libc)
    if abi == 0 and policy["require_landlock"]:
        sys.stderr.write("headwater: Landlock is not available on this kernel and the build requires it\n")
        sys.exit(126)
    if abi > 0:
        restrict(libc, abi, policy["paths"], policy["deny_network"])
    os.execve(program[0], program, policy["env"])


if __name__ == "__main__":
    main(sys.argv)
