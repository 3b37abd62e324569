"""Deploy: create a datakit's tables on a target, probe them, undo them; validate and clean up.

- :mod:`~dkenv.deploy.deploy`: create a datakit's own MetaData on a target (``deploy_data_objects``,
  ``deploy_datakits``, ``precompile`` before anything starts) and undo exactly what was created;
- :mod:`~dkenv.deploy.probes`: defaults and views evaluated right after a deploy, without side effects;
- :mod:`~dkenv.deploy.deployed`: the framework functions (``validate_deployment``,
  ``validate_pipeline_flow``, ``create_engine_for_target``, ``cleanup_test_target``).

This module only re-exports; submodules import each other directly.
"""

from dkenv.deploy.deploy import deploy_data_objects, deploy_datakits, fk_target, precompile, undo
from dkenv.deploy.deployed import (
    cleanup_test_target,
    create_engine_for_target,
    validate_deployment,
    validate_pipeline_flow,
)

__all__ = [
    "cleanup_test_target",
    "create_engine_for_target",
    "deploy_data_objects",
    "deploy_datakits",
    "fk_target",
    "precompile",
    "undo",
    "validate_deployment",
    "validate_pipeline_flow",
]
