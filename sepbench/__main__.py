import sys

from sepbench.cli import main

sys.exit(main())
