"""`python -m services.stack`: start every process of the console; Ctrl-C stops them all."""

import sys

from services.stack.supervisor import main

if __name__ == "__main__":
    sys.exit(main())
