import sys

from edgeppg.cli.main import main

sys.exit(main())
