#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The layers of daemon/, checked over the #include lines.

    util  <-  core  <-  match
                 ^
                 +----  source, backend   (each sees only util, core and itself)
    service: everything below it;  cmd: everything.

Only the service layer (and the programs in cmd/) reads the configuration
(service/conf.h): a library module is told what to do, it does not look
it up.  Every project header is included by its folder ("util/htab.h"), so
the graph can be read from the text alone; a bare "htab.h" is an error.

Usage: check_includes.py DAEMON_DIR.  Exit 0 and a summary, or 1 and one
line per broken edge: file:line: what.
"""
import os
import re
import sys

ALLOWED = {
    "util": {"util"},
    "core": {"util", "core"},
    "match": {"util", "core", "match"},
    "source": {"util", "core", "source"},
    "backend": {"util", "core", "backend"},
    "service": {"util", "core", "match", "source", "backend", "service"},
    "cmd": {"util", "core", "match", "source", "backend", "service", "cmd"},
}
CONFIG_HEADER = "service/conf.h"
CONFIG_READERS = {"service", "cmd"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def check(root):
    errors, edges, files = [], 0, 0
    for layer in sorted(os.listdir(root)):
        folder = os.path.join(root, layer)
        if not os.path.isdir(folder):
            continue
        if layer not in ALLOWED:
            errors.append(f"{folder}: a folder that is no layer (add it to {__file__})")
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(folder, name)
            files += 1
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    inc = m.group(1)
                    edges += 1
                    if "/" not in inc:
                        errors.append(f"{path}:{n}: \"{inc}\" without its folder")
                        continue
                    dep = inc.split("/", 1)[0]
                    if not os.path.exists(os.path.join(root, inc)):
                        errors.append(f"{path}:{n}: \"{inc}\" does not exist")
                    elif dep not in ALLOWED[layer]:
                        errors.append(f"{path}:{n}: {layer}/ may not see {dep}/ (\"{inc}\")")
                    elif inc == CONFIG_HEADER and layer not in CONFIG_READERS:
                        errors.append(f"{path}:{n}: only the service layer reads the config")
    return errors, edges, files


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "daemon")
    errors, edges, files = check(root)
    for e in errors:
        print(e)
    print(f"{files} files, {edges} includes, {len(errors)} broken")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
