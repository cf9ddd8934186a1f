"""`python -m services.keys.health`: ask 360dialog about every active key every CONSOLE_KEY_HEALTH_MINUTES."""

import sys

from services.keys.health.process import main

if __name__ == "__main__":
    sys.exit(main())
