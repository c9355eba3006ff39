"""A third-party plugin adds a watermark reader for its own file type through the hook this plugin declares."""

import hashlib
from types import SimpleNamespace

import gentoolkit_provenance
from gentoolkit import Toolkit, hookimpl
from gentoolkit_provenance.detect import detect


class VoxelMarker:
    """A tiny third-party plugin: .vox files whose first line is a keyed tag are marked."""

    @staticmethod
    def tag(key: bytes) -> str:
        return hashlib.sha256(b"vox:" + key).hexdigest()[:16]

    @hookimpl
    def register_provenance_readers(self, register):
        def read(path, key):
            first = path.read_text().splitlines()[0] if path.read_text() else ""
            return {"verdict": "marked" if first == self.tag(key) else "unmarked", "tag_found": first == self.tag(key)}

        register(SimpleNamespace(name="voxels", suffixes=(".vox",), read=read))


def test_a_third_party_reader_is_used_for_its_suffix(tmp_path):
    from gentoolkit_provenance.settings import load_settings

    kit = Toolkit(plugins=[gentoolkit_provenance, VoxelMarker()], entrypoints=False)
    (tmp_path / "marked.vox").write_text(VoxelMarker.tag(load_settings().key) + "\n1 2 3\n")
    (tmp_path / "plain.vox").write_text("1 2 3\n")
    reports = {r["file"].rsplit("/", 1)[1]: r for r in detect([tmp_path], toolkit=kit)}
    assert reports["marked.vox"]["kind"] == "voxels" and reports["marked.vox"]["status"] == "marked"
    assert reports["plain.vox"]["status"] == "unmarked" and reports["plain.vox"]["watermark"]["tag_found"] is False
    without = detect([tmp_path / "plain.vox"])  # no toolkit: nobody reads .vox
    assert without[0]["status"] == "unsupported" and without[0]["reason"] == "no provenance marker for .vox"
