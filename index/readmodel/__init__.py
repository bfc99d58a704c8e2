"""The read model: the committed corpus in compact, memory-mappable columns, one version per
store generation under `<data_dir>/readmodel/<prefix>/`, which readers (qa/) open instead of
reading Chroma.

    format.py      the files of a version and opening one (`read`)
    writing.py     a version's content: from the whole store, or the version before and the
                   documents that changed; written into place, COMMITTED last
    publishing.py  which process writes which version (claims, the child rebuild, the copy
                   from a peer), and `publish`, the entry point: it leaves the version of the
                   store's current generation on disk and returns it opened"""

from index.readmodel.publishing import Peer, Versions, publish

__all__ = ["Peer", "Versions", "publish"]
