"""Tables as one engine will receive them: translated copies, compiled DDL and its hash.

:mod:`dkenv.schema.translate` carries server defaults to an engine (one copy per deploy);
:mod:`dkenv.schema.ddl` loads datakit sets, maps schemas for isolated databases and compiles
the DDL a server would run (hashed to find a template again).  Both :mod:`dkenv.deploy` and
:mod:`dkenv.databases` build on them; nothing here connects to a target beyond a dialect probe.
"""

from dkenv.schema.ddl import (
    LAYOUT_VERSION,
    MYSQL_NAME_MAX,
    all_tables,
    check_references,
    compile_ddl,
    ddl_key,
    fill_tokens,
    inline_indexes,
    kits_key,
    load_kits,
    model_table_name,
    physical_schema,
    schemas_of,
    tables_for_target,
    tokenized,
    translate_tables,
    user_names,
)
from dkenv.schema.translate import Connected, copy_for_engine, engine_spec_of, sql_of_default

__all__ = ["LAYOUT_VERSION", "MYSQL_NAME_MAX", "Connected", "all_tables", "check_references", "compile_ddl", "copy_for_engine", "ddl_key",
           "engine_spec_of", "fill_tokens", "inline_indexes", "kits_key", "load_kits", "model_table_name",
           "physical_schema", "schemas_of", "sql_of_default", "tables_for_target", "tokenized", "translate_tables",
           "user_names"]
