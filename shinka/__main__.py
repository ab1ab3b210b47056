import sys

from shinka.cli import main

sys.exit(main())
