"""LiveL2L: the one entry point. `python run.py <command> --help` for each command (the same as `livel2l`)."""
import sys

from livel2l import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
