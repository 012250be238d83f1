#!/usr/bin/env python
"""Print the paired generator's throughput (pairs/s); `--out FILE` also writes it as JSON. Same as `edgeppg data bench`."""

import sys

from edgeppg.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["data", "bench", *sys.argv[1:]]))
