"""``python -m modelsync``: the ``modelsync`` command."""

from modelsync.cli import main

if __name__ == "__main__":
    main()
