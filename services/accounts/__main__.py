import sys

from services.accounts.cli import main

sys.exit(main())
