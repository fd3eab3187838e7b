"""The packaged app's entry point (PyInstaller runs this script).

No arguments open the window; ``--self-test`` checks the installation; ``--child MODULE``
runs one of the app's modules as a child process (a frozen app has no ``python -m``); any
other arguments are the ``playground`` command line.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # spawn children (DataLoader workers) re-enter here
    from playground.cli import main

    sys.exit(main())
