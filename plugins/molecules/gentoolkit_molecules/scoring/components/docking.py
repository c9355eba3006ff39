"""AutoDock Vina docking score in kcal/mol (lower binds better): RDKit ETKDG conformer, meeko
ligand preparation, Vina 1.2 search in a box of a prepared receptor.

Needs ``pip install 'gentoolkit-molecules[docking]'`` (vina, meeko). Each worker loads the
receptor and computes Vina's grid maps once, at its first molecule. ``receptor = "1iep"`` is the
shipped example from AutoDock Vina (ABL kinase, imatinib; Apache 2.0, see data/docking/1iep).
A molecule that ETKDG, meeko or Vina cannot handle gets NaN and a reason (scored 0 by the run).
Each docked molecule's best pose comes back (``scorer.poses``, an SDF block) to the process that
runs the job, which writes ``poses/<label>.sdf`` in the run folder: workers need no shared disk.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem
from rdkit.Chem import AllChem

from gentoolkit.parallel import describe_error
from gentoolkit_molecules.scoring.component import ScoringConfigError, parse_params

EXAMPLES = {"1iep": ("1iep_receptor.pdbqt", "1iep_receptor.box.txt")}


@dataclass(frozen=True)
class Parameters:
    receptor: str  # a prepared receptor PDBQT file, or "1iep" (the shipped example)
    center: tuple[float, float, float] | None = None  # box centre in Å (or from box_file)
    size: tuple[float, float, float] | None = None  # box edges in Å (or from box_file)
    box_file: str = ""  # a Vina box file (center_x = ... size_z = ...); the example's by default
    exhaustiveness: int = 8  # Vina's search effort; time grows about linearly with it
    poses: int = 1  # poses Vina refines and keeps; the score is the best one's
    seed: int = 1  # for ETKDG and Vina's search: the same molecule docks the same way (Vina: 0 = random)
    cpu: int = 1  # Vina threads per docking; keep 1 and fan out with --workers
    conformer: str = "etkdg"  # or "input": keep the 3D coordinates a molecule has (redocking a crystal ligand)


class VinaDocking:
    """Docks molecules one by one; the Vina object (receptor and grid maps) is built on first use
    in whichever process scores, and is not pickled."""

    def __init__(self, params: Parameters):
        self.params = params
        self.reasons: dict[int, str] = {}  # index -> why, for the molecules of the last call that failed
        self.poses: dict[int, str] = {}  # index -> the best pose as an SDF block, for those that docked
        self._vina: Any = None

    def __getstate__(self) -> dict:
        return {"params": self.params}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["params"])

    def __call__(self, mols: list[Chem.Mol]) -> np.ndarray:
        scores, self.reasons, self.poses = np.full(len(mols), np.nan), {}, {}
        for i, mol in enumerate(mols):
            try:
                scores[i], pose = self.dock(mol)
                self.poses[i] = pose_block(mol, pose, scores[i])
            except Exception as err:  # one molecule's failure must not cost the others their docking
                self.reasons[i] = describe_error(err)
        return scores

    def dock(self, mol: Chem.Mol) -> tuple[float, Chem.Mol]:
        """The best pose's Vina score (kcal/mol) and that pose as an RDKit molecule."""
        from meeko import PDBQTMolecule, RDKitMolCreate

        vina = self._receptor()
        keep = self.params.conformer == "input" and mol.GetNumConformers() and mol.GetConformer().Is3D()
        vina.set_ligand_from_string(ligand_pdbqt(mol, self.params.seed, embed=not keep))
        vina.dock(exhaustiveness=self.params.exhaustiveness, n_poses=self.params.poses)
        energy = float(vina.energies(n_poses=1)[0][0])
        pose = RDKitMolCreate.from_pdbqt_mol(PDBQTMolecule(vina.poses(n_poses=1), skip_typing=True))[0]
        if pose is None:
            raise ValueError("meeko could not rebuild the docked pose")
        return energy, pose

    def _receptor(self) -> Any:
        if self._vina is None:
            from vina import Vina

            p = self.params
            vina = Vina(sf_name="vina", cpu=p.cpu, seed=p.seed, verbosity=0)
            vina.set_receptor(p.receptor)
            vina.compute_vina_maps(center=list(p.center), box_size=list(p.size))
            self._vina = vina
        return self._vina


def ligand_pdbqt(mol: Chem.Mol, seed: int, embed: bool = True) -> str:
    """The ligand as PDBQT (meeko): a new 3D conformer (ETKDGv3, then MMFF where it has parameters),
    or with ``embed=False`` the molecule's own 3D coordinates. Vina then searches position,
    orientation and torsions; ring shapes, bond lengths and angles stay as given here."""
    from meeko import MoleculePreparation, PDBQTWriterLegacy

    mol = Chem.AddHs(Chem.Mol(mol), addCoords=not embed)
    if embed:
        options = AllChem.ETKDGv3()
        options.randomSeed = seed
        if AllChem.EmbedMolecule(mol, options) != 0:
            raise ValueError("RDKit ETKDG could not embed a 3D conformer")
        if AllChem.MMFFHasAllMoleculeParams(mol):
            AllChem.MMFFOptimizeMolecule(mol)
    setups = MoleculePreparation().prepare(mol)
    text, ok, error = PDBQTWriterLegacy.write_string(setups[0])
    if not ok:
        raise ValueError(f"meeko could not write the ligand: {error.strip()}")
    return text


def pose_block(mol: Chem.Mol, pose: Chem.Mol, energy: float) -> str:
    """The pose as one SDF record (``$$$$``-terminated) named by the molecule's SMILES, with
    ``SMILES`` and ``vina_score`` properties."""
    smiles = Chem.MolToSmiles(mol)
    pose = Chem.Mol(pose)
    pose.SetProp("_Name", smiles)
    pose.SetProp("SMILES", smiles)
    pose.SetDoubleProp("vina_score", float(energy))
    text = io.StringIO()
    with Chem.SDWriter(text) as writer:
        writer.write(pose)
    return text.getvalue()


def read_box(path: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(center, size) from a Vina box/config file of ``key = value`` lines."""
    values: dict[str, float] = {}
    for line in Path(path).read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            try:
                values[key.strip()] = float(value.split("#")[0])
            except ValueError:
                continue
    try:
        return (tuple(values[f"center_{a}"] for a in "xyz"), tuple(values[f"size_{a}"] for a in "xyz"))
    except KeyError as missing:
        raise ScoringConfigError(f"docking box file {path} has no {missing.args[0]} line; it needs "
                                 "center_x/y/z and size_x/y/z.") from None


def example_path(name: str) -> Path:
    """A file of the shipped docking examples (data/docking/<example>/)."""
    return Path(str(resources.files("gentoolkit_molecules") / "data" / "docking" / name.split("_")[0] / name))


def create(**params: Any) -> VinaDocking:
    p = parse_params(Parameters, params, "vina_docking")
    receptor, box_file = p.receptor, p.box_file
    if receptor in EXAMPLES:
        receptor = str(example_path(EXAMPLES[receptor][0]))
        box_file = box_file or str(example_path(EXAMPLES[p.receptor][1]))
    if not Path(receptor).is_file() or not receptor.endswith(".pdbqt"):
        raise ScoringConfigError(f"vina_docking: receptor {p.receptor!r} is not a PDBQT file; prepare the receptor "
                                 f"(e.g. with meeko's mk_prepare_receptor.py) or use one of: {', '.join(EXAMPLES)}.")
    center, size = p.center, p.size
    if box_file:
        if not Path(box_file).is_file():
            raise ScoringConfigError(f"vina_docking: box_file {box_file!r} does not exist.")
        file_center, file_size = read_box(Path(box_file))
        center, size = center or file_center, size or file_size
    for name, value in (("center", center), ("size", size)):
        if value is None or len(value) != 3 or not all(isinstance(v, (int, float)) for v in value):
            raise ScoringConfigError(f"vina_docking: {name} must be three numbers (Å), or give a box_file; "
                                     f"got {value!r}.")
    if p.conformer not in ("etkdg", "input"):
        raise ScoringConfigError(f"vina_docking: conformer must be 'etkdg' or 'input', not {p.conformer!r}.")
    if any(v <= 0 for v in size) or p.exhaustiveness < 1 or p.poses < 1 or p.cpu < 1:
        raise ScoringConfigError("vina_docking: size, exhaustiveness, poses and cpu must be positive.")
    return VinaDocking(Parameters(str(Path(receptor).resolve()), tuple(map(float, center)), tuple(map(float, size)),
                                  "", p.exhaustiveness, p.poses, p.seed, p.cpu, p.conformer))
