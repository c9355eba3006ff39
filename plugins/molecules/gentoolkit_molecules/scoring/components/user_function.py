"""Your own Python function as a scoring component.

``function = "package.module:name"`` or ``"path/to/file.py:name"``; it receives a list of SMILES
(``input = "smiles"``, canonical RDKit SMILES) or of RDKit molecules (``input = "mols"``) and returns
one number per molecule. Registered as expensive: with ``scoring.parallel > 1`` it runs in worker
processes, which import it again from the same place.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from rdkit import Chem

from gentoolkit.errors import GentoolkitError
from gentoolkit_molecules.scoring.component import ScoringConfigError, parse_params


def load_function(spec: str) -> Callable:
    """Import ``module:name`` or ``file.py:name``; a clear ScoringConfigError when that fails."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ScoringConfigError(f"function {spec!r} must look like 'package.module:name' "
                                 "or 'path/to/file.py:name'.")
    where, name = spec.rsplit(":", 1)
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise ScoringConfigError(f"file {where!r} (from {spec!r}) does not exist.")
            module_name = f"gentoolkit_user_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
            module_spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
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
    def __init__(self, params: Parameters):
        self.params = params
        self._function = load_function(params.function)

    def __getstate__(self) -> dict:
        return {"params": self.params}  # workers import the function again

    def __setstate__(self, state: dict) -> None:
        self.params = state["params"]
        self._function = load_function(self.params.function)

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
    if isinstance(p.function, str) and ".py:" in p.function:  # absolute, so worker processes find it
        where, name = p.function.rsplit(":", 1)
        p = Parameters(f"{Path(where).resolve()}:{name}", p.input)
    return UserFunction(p)
