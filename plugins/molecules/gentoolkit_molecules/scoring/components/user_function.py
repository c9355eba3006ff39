"""Your own Python function as a scoring component.

``function = "package.module:name"`` or ``"path/to/file.py:name"``; it receives a list of SMILES
(``input = "smiles"``, canonical RDKit SMILES) or of RDKit molecules (``input = "mols"``) and returns
one number per molecule. Registered as expensive: it runs in the run's workers (``--executor``).
A ``module:name`` is imported again there (install it on every node); a ``file.py`` travels with
the scorer as source, so Ray workers on other machines need no copy of it.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from rdkit import Chem

from gentoolkit.errors import GentoolkitError
from gentoolkit_molecules.scoring.component import ScoringConfigError, parse_params


def read_source(spec: str) -> str | None:
    """The source text of a ``file.py:name`` spec (None for ``module:name``)."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ScoringConfigError(f"function {spec!r} must look like 'package.module:name' "
                                 "or 'path/to/file.py:name'.")
    where = spec.rsplit(":", 1)[0]
    if not where.endswith(".py"):
        return None
    if not Path(where).is_file():
        raise ScoringConfigError(f"file {where!r} (from {spec!r}) does not exist.")
    return Path(where).read_text(encoding="utf-8")


def load_function(spec: str, source: str | None = None) -> Callable:
    """``name`` from ``module`` (imported) or from a file's ``source`` (executed as a module named
    after the file); a clear ScoringConfigError when that fails."""
    where, name = spec.rsplit(":", 1)
    try:
        if source is not None:
            module_name = f"gentoolkit_user_{Path(where).stem}_{hashlib.sha1(source.encode()).hexdigest()[:8]}"
            module = types.ModuleType(module_name)
            module.__file__ = where
            sys.modules[module_name] = module  # as an import would: dataclasses and pickle look it up
            exec(compile(source, where, "exec"), module.__dict__)  # noqa: S102 - the user's own oracle
        else:
            module = importlib.import_module(where)
    except ScoringConfigError:
        raise
    except Exception as err:  # any import-time failure of user code
        raise ScoringConfigError(f"cannot import {where!r} (from {spec!r}): "
                                 f"{type(err).__name__}: {err}") from err
    function = getattr(module, name, None)
    if not callable(function):
        raise ScoringConfigError(f"{where!r} has no function {name!r} (from {spec!r}).")
    return function


@dataclass(frozen=True)
class Parameters:
    function: str            # "package.module:name" or "path/to/file.py:name"
    input: str = "smiles"    # smiles | mols


class UserFunction:
    def __init__(self, params: Parameters, source: str | None = None):
        self.params, self.source = params, source
        self._function = load_function(params.function, source)

    def __getstate__(self) -> dict:
        return {"params": self.params, "source": self.source}  # workers build the function again

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["params"], state["source"])

    def __call__(self, mols: list[Chem.Mol]) -> np.ndarray:
        batch = [Chem.MolToSmiles(mol) for mol in mols] if self.params.input == "smiles" else mols
        returned = self._function(batch)  # its own errors stay its own (a molecule it cannot score)
        try:
            values = np.asarray(returned, dtype=float).reshape(-1)
        except (TypeError, ValueError) as err:
            raise GentoolkitError(f"user function {self.params.function!r} must return numbers: {err}") from err
        if len(values) != len(mols):
            raise GentoolkitError(f"user function {self.params.function!r} returned {len(values)} values "
                                  f"for {len(mols)} molecules; return one number per molecule.")
        return values


def create(**params) -> UserFunction:
    p = parse_params(Parameters, params, "user_function")
    if p.input not in ("smiles", "mols"):
        raise ScoringConfigError(f"input must be 'smiles' or 'mols', not {p.input!r}.")
    source = read_source(p.function)
    if source is not None:  # an absolute path in messages and in the module's __file__
        where, name = p.function.rsplit(":", 1)
        p = Parameters(f"{Path(where).resolve()}:{name}", p.input)
    return UserFunction(p, source)
