"""`python -m services.scheduler`: sync with the Partner API every CONSOLE_SYNC_MINUTES until stopped."""

import sys

from services.scheduler.loop import main

if __name__ == "__main__":
    sys.exit(main())
