"""Generate the gRPC stubs in proto/ from proto/*.proto.

The .proto files are compiled as if they lived in ``weir/proto/`` so the
generated modules import each other as ``weir.proto.…``.

Usage: python scripts/gen_proto.py [OUT_DIR]   (default: proto/)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

PROTO_DIR = Path(__file__).resolve().parent.parent / "proto"


def generate(out_dir: Path, proto_dir: Path = PROTO_DIR) -> list[Path]:
    """Compile every ``proto_dir/*.proto`` into ``out_dir``; return the files written."""
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        package_dir = root / "weir" / "proto"
        package_dir.mkdir(parents=True)
        sources = sorted(proto_dir.glob("*.proto"))
        for source in sources:
            shutil.copy(source, package_dir / source.name)
        args = ["protoc", f"-I{root}", f"--python_out={root}", f"--pyi_out={root}",
                f"--grpc_python_out={root}"]
        args += [str(Path("weir") / "proto" / s.name) for s in sources]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        out_dir.mkdir(parents=True, exist_ok=True)
        for generated in sorted(package_dir.glob("*_pb2*")):
            target = out_dir / generated.name
            shutil.copy(generated, target)
            written.append(target)
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else PROTO_DIR
    for path in generate(out):
        print(f"wrote {path}")
