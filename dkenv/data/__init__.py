"""Data in the loop: load data files into a deployment of datakits, all or nothing.

    from dkenv.data import load_data
    result = load_data(target, ["data/sample"], ["examples/bronze-pagila"])
    result.tables          # {"br__pagila__public.actor": 200, ...}

- :mod:`~dkenv.data.phases`: ``load_data``/``read_data``, the three phases (read and validate every
  file, look up keys outside the run, write in one transaction);
- :mod:`~dkenv.data.files` reads data files, :mod:`~dkenv.data.rows` and :mod:`~dkenv.data.limits`
  validate every value, :mod:`~dkenv.data.load` writes, :mod:`~dkenv.data.guard` tells the
  environment's failures from bad data, :mod:`~dkenv.data.snapshots` copies databases.

``dkenv load``'s whole job (paths in, one load) is :func:`dkenv.jobs.load_paths`.

Import layer: above servers/, deploy/ and datakit; below databases/, environments/ and cli/.
"""

from dkenv.data.files import DataFile, DataFileError, content_hash, find_files
from dkenv.data.load import LoadFailed
from dkenv.data.phases import LoadResult, PreparedLoad, data_dirs_of, load_data, read_data
from dkenv.data.rows import BadRows

__all__ = ["BadRows", "DataFile", "DataFileError", "LoadFailed", "LoadResult", "PreparedLoad", "content_hash",
           "data_dirs_of", "find_files", "load_data", "read_data"]
