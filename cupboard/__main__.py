import sys

from cupboard.cli import main

sys.exit(main())
