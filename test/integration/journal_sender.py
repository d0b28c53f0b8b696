# SPDX-License-Identifier: GPL-3.0-or-later
"""Send journal entries as a process with the name given (its _COMM).

    python3 journal_sender.py NAME IDENTIFIER MESSAGE [MESSAGE...]

Sets the process name with prctl(PR_SET_NAME), writes each MESSAGE with
SYSLOG_IDENTIFIER over journald's native socket, and stays alive a moment
so that journald can read the sender's /proc entry (_COMM, _EXE).
"""

import ctypes
import socket
import sys
import time

PR_SET_NAME = 15


def main():
    name, ident, messages = sys.argv[1], sys.argv[2], sys.argv[3:]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()), 0, 0, 0)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    for m in messages:
        data = "SYSLOG_IDENTIFIER=%s\nSYSLOG_FACILITY=2\nPRIORITY=6\nMESSAGE=%s\n" % (ident, m)
        s.sendto(data.encode(), "/run/systemd/journal/socket")
    time.sleep(0.3)


if __name__ == "__main__":
    main()
