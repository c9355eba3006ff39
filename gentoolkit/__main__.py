"""``python -m gentoolkit`` is the ``gentoolkit`` command."""

from gentoolkit.cli import main

if __name__ == "__main__":
    main()
