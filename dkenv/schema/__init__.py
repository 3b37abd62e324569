"""Datakits as one engine receives them: MetaData units, compiled DDL, carried defaults, undo.

:mod:`dkenv.schema.plan` says what a deploy creates (each datakit's own MetaData) and compiles
it for an engine before anything starts; :mod:`dkenv.schema.carry` carries server defaults
to the engine through a compile hook; :mod:`dkenv.schema.catalog` reads what a deploy created
so that undo drops exactly that; :mod:`dkenv.schema.extensions` covers PostgreSQL extensions
and enum types; :mod:`dkenv.schema.ddl` loads datakit sets, maps schemas for isolated
databases and hashes compiled DDL; :mod:`dkenv.schema.translate` keeps table copies for
``dkenv check``'s table-by-table pass.  Nothing here opens a connection of its own.
"""

from dkenv.schema.carry import SEQUENCE_CALL, carried_default, carrying, default_sql, sql_of_default
from dkenv.schema.catalog import drop_objects, snapshot
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
    model_table_name,
    physical_schema,
    schema_map_of,
    schemas_of,
    tables_for_target,
    tokenized,
    translate_tables,
    user_names,
)
from dkenv.schema.extensions import check_enums, ensure_extensions, needed_extensions
from dkenv.schema.generator import Generator, run_generator
from dkenv.schema.inputs import Inputs, inputs_of, tables_of, unique_tables
from dkenv.schema.plan import (
    Unit,
    check_compiles,
    client_side_warnings,
    compile_dialect,
    compile_units,
    external_refs,
    external_stubs,
    fk_parts,
    kit_units,
    metadatas_of,
    plain_tables,
    table_units,
)
from dkenv.schema.translate import Connected, copy_for_engine, engine_spec_of

__all__ = [
    "LAYOUT_VERSION", "MYSQL_NAME_MAX", "Generator", "Inputs", "inputs_of", "tables_of", "unique_tables", "run_generator", "SEQUENCE_CALL", "Connected", "Unit", "all_tables", "carried_default",
    "carrying", "check_compiles", "check_enums", "check_references", "client_side_warnings", "compile_ddl", "compile_units",
    "copy_for_engine", "ddl_key", "default_sql", "compile_dialect", "drop_objects", "engine_spec_of",
    "ensure_extensions", "external_refs", "external_stubs", "fill_tokens", "fk_parts", "inline_indexes",
    "kits_key", "kit_units", "metadatas_of", "model_table_name", "needed_extensions",
    "physical_schema", "plain_tables", "schema_map_of", "schemas_of", "snapshot", "sql_of_default",
    "table_units", "tables_for_target", "tokenized", "translate_tables", "user_names",
]
