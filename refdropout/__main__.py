"""``python -m refdropout``: the command line."""

from refdropout.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
