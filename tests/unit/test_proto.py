"""The committed stubs in proto/ are what scripts/gen_proto.py generates from the .proto files."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
PROTO_DIR = REPO / "proto"


def _gen_proto() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_proto", REPO / "scripts" / "gen_proto.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stale_stubs(generated_dir: Path, committed_dir: Path) -> list[str]:
    """Names of the stubs that differ, are missing from, or are left over in ``committed_dir``."""
    generated = {p.name for p in generated_dir.glob("*_pb2*")}
    committed = {p.name for p in committed_dir.glob("*_pb2*") if p.suffix in (".py", ".pyi")}
    assert generated, "gen_proto.py generated nothing"
    return sorted(name for name in generated | committed
                  if name not in generated or name not in committed
                  or (generated_dir / name).read_bytes() != (committed_dir / name).read_bytes())


def test_committed_stubs_match_the_proto_files(tmp_path):
    _gen_proto().generate(tmp_path)
    assert stale_stubs(tmp_path, PROTO_DIR) == [], \
        "the stubs in proto/ are stale: run `make proto` and commit the result"


def test_a_changed_proto_file_is_reported_stale(tmp_path):
    sources, out = tmp_path / "src", tmp_path / "out"
    sources.mkdir()
    for proto in PROTO_DIR.glob("*.proto"):
        shutil.copy(proto, sources / proto.name)
    with (sources / "jobmanager.proto").open("a") as file:
        file.write("\nmessage AddedSinceGeneration { string field = 1; }\n")
    _gen_proto().generate(out, proto_dir=sources)
    assert stale_stubs(out, PROTO_DIR) == ["jobmanager_pb2.py", "jobmanager_pb2.pyi"]
