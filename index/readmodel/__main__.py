"""`python -m index.readmodel FOLDER PREFIX`: the child process of
publishing.rebuild_in_child, which writes the version of the whole store into FOLDER."""

import sys

from index.readmodel.publishing import rebuild_child

if __name__ == "__main__":
    sys.exit(rebuild_child())
