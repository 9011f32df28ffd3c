import sys

from xrec_bench.cli import main

sys.exit(main())
