#!/usr/bin/env python3
"""A first call to sharedmetrics from Python, with clients generated from the protos.

    python3 examples/python/first_call.py [ADDRESS] [API_KEY]

ADDRESS defaults to 127.0.0.1:50051; API_KEY to the contents of data/admin-api-key (written by
`make run` on first start). Needs `pip install grpcio grpcio-tools`.
"""
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]


def generate_stubs() -> pathlib.Path:
    """Generates Python modules from proto/ into a temporary folder and puts it on sys.path."""
    import grpc_tools

    out = pathlib.Path(tempfile.mkdtemp(prefix="sharedmetrics-py-"))
    protos = [str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto" / "sharedmetrics").rglob("*.proto")]
    protos += ["google/api/annotations.proto", "google/api/http.proto"]
    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'proto'}", f"-I{well_known}",
         f"--python_out={out}", f"--grpc_python_out={out}", *protos],
        check=True,
    )
    sys.path.insert(0, str(out))
    return out


def main() -> int:
    address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
    key = sys.argv[2] if len(sys.argv) > 2 else (ROOT / "data" / "admin-api-key").read_text().strip()
    generate_stubs()
    import grpc
    from sharedmetrics.common.v1 import common_pb2
    from sharedmetrics.definitions.v1 import definitions_pb2, definitions_pb2_grpc

    auth = [("authorization", f"Bearer {key}")]
    with grpc.insecure_channel(address) as channel:
        definitions = definitions_pb2_grpc.DefinitionsServiceStub(channel)
        districts = definitions.ListAreas(
            definitions_pb2.ListAreasRequest(type=common_pb2.AREA_TYPE_LOCAL_AUTHORITY_DISTRICT, page_size=1000),
            metadata=auth,
        )
        print(f"{districts.total_size} local authority districts, e.g. {districts.areas[0].name} "
              f"in {[p.name for p in districts.areas[0].parents if p.type == common_pb2.AREA_TYPE_REGION][0]}")
        lsoa = definitions.GetArea(definitions_pb2.GetAreaRequest(code="E01000001"), metadata=auth).area
        print(f"{lsoa.code} {lsoa.name}: IMD decile {lsoa.deprivation.imd_decile}, population {lsoa.population}")
        anchor = definitions.ListMetrics(definitions_pb2.ListMetricsRequest(tag="anchor"), metadata=auth)
        for metric in anchor.metrics:
            print(f"anchor metric {metric.code}: {metric.current.spec.title}")
        if districts.total_size != 317 or lsoa.deprivation.imd_decile != 9 or not anchor.metrics:
            print("unexpected answer", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
