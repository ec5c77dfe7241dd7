"""Lints and renders the Helm chart with Helm's own Go SDK (through helm-python-sdk), with no
cluster and no helm binary. Called by scripts/helm-lint.sh, inside its virtualenv.

1. `helm lint --strict` of the chart with every ci/*-values.yaml except the contradictory one.
2. Renders each of those (schema validation included) into OUT/<name>/, one file per template.
3. Asserts that ci/contradictory-values.yaml does NOT render, and that it is refused by
   templates/validate.yaml (not by a typo or the schema), and that each rule of validate.yaml
   refuses its own case below.
4. Renders a few optional parts (ServiceMonitor, SQLite volume) to check they appear.
Exits non-zero on the first failure, saying what failed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import helm_python as helm
import yaml

RELEASE = "sharedmetrics"
NAMESPACE = "sharedmetrics"
CONTRADICTORY = "contradictory-values.yaml"
REFUSAL = "sharedmetrics: contradictory values"

# Each rule of templates/validate.yaml, with values (merged over ci/distributed-values.yaml or
# ci/single-binary-values.yaml) that break it and a phrase its message must contain.
REFUSED = [
    ("single-binary", {"database": {"existingSecret": ""}}, "database.existingSecret is empty"),
    ("distributed", {"internalToken": {"existingSecret": ""}}, "internalToken.existingSecret is empty"),
    ("distributed", {"database": {"type": "sqlite"}}, "cannot be shared between pods"),
    ("single-binary", {"database": {"type": "sqlite"}, "singleBinary": {"replicas": 2}}, "singleBinary.replicas is 2"),
    (
        "single-binary",
        {"database": {"type": "sqlite"}, "singleBinary": {"replicas": 1, "autoscaling": {"enabled": True}}},
        "singleBinary.autoscaling.enabled with database.type sqlite",
    ),
    (
        "distributed",
        {"submissions": {"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 1}}},
        "submissions.autoscaling: maxReplicas (1) is below minReplicas (3)",
    ),
]

# Values the schema must refuse before any template runs.
SCHEMA_REFUSED = [
    ({"deploymentMode": "Hybrid"}, "/deploymentMode"),
    ({"database": {"type": "mysql"}}, "/database/type"),
    ({"gateway": {"replica": 2}}, "/gateway"),
]


def fail(message: str) -> None:
    print(f"helm-lint: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_values(path: Path) -> dict:
    return helm.values_from_yaml(path.read_text())


def render(chart: helm.Chart, values: dict) -> dict[str, str]:
    return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def kinds(manifests: dict[str, str]) -> list[str]:
    found = []
    for template, text in manifests.items():
        if template.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                found.append(doc["kind"])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chart", default="helm/sharedmetrics")
    parser.add_argument("--out", default="target/helm-lint")
    parser.add_argument("--kube-version", default="1.33.0")
    args = parser.parse_args()

    chart_dir = Path(args.chart)
    out = Path(args.out)
    ci_files = sorted(p for p in (chart_dir / "ci").glob("*-values.yaml") if p.name != CONTRADICTORY)
    if not ci_files:
        fail(f"no ci/*-values.yaml in {chart_dir}")
    chart = helm.Chart.load(chart_dir)
    print(f"helm-lint: Helm SDK {helm.helm_sdk_version()}, chart {chart.name} {chart.version}")

    # 1. helm lint --strict, once per values file.
    for ci in ci_files:
        report = helm.lint(
            chart_dir,
            load_values(ci),
            strict=True,
            namespace=NAMESPACE,
            kube_version=f"v{args.kube_version}",
        )
        problems = [m for m in report["messages"] if m["severity"] >= 2] + [
            {"severity": 3, "path": "", "error": e} for e in report["errors"]
        ]
        for message in report["messages"]:
            print(f"  lint {ci.name}: [{message['severity']}] {message['path']}: {message['error']}")
        if problems:
            fail(f"helm lint --strict with {ci.name} reported {len(problems)} warning(s) or error(s)")
        print(f"helm-lint: helm lint --strict passes with {ci.name}")

    # 2. Render each values file into OUT/<name>/<template path>.
    if out.exists():
        shutil.rmtree(out)
    base: dict[str, dict] = {}
    for ci in ci_files:
        name = ci.name.removesuffix("-values.yaml")
        values = load_values(ci)
        base[name] = values
        manifests = render(chart, values)
        written = 0
        for template, text in sorted(manifests.items()):
            if not text.strip() or template.endswith("NOTES.txt"):
                continue
            target = out / name / Path(template).relative_to(chart.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text.lstrip("\n"))
            written += 1
        print(f"helm-lint: rendered {ci.name}: {written} manifests ({', '.join(sorted(set(kinds(manifests))))})")

    # 3. The contradictory values must be refused by validate.yaml.
    contradictory = chart_dir / "ci" / CONTRADICTORY
    values = load_values(contradictory)
    try:
        chart.validate_schema(values)
    except helm.HelmValuesError as error:
        fail(f"{CONTRADICTORY} must pass the schema so that validate.yaml is what refuses it: {error}")
    try:
        render(chart, values)
    except helm.HelmRenderError as error:
        if REFUSAL not in str(error):
            fail(f"{CONTRADICTORY} failed to render, but not through validate.yaml: {error}")
        print(f"helm-lint: {CONTRADICTORY} is refused, as it must be:")
        for line in str(error).splitlines():
            if line.strip().startswith("- "):
                print(f"    {line.strip()}")
    else:
        fail(f"{CONTRADICTORY} rendered; templates/validate.yaml must refuse it")

    for mode, override, phrase in REFUSED:
        try:
            render(chart, merge(base[mode], override))
        except helm.HelmRenderError as error:
            if phrase not in str(error):
                fail(f"{override} was refused without naming {phrase!r}: {error}")
        else:
            fail(f"{override} over ci/{mode}-values.yaml rendered; validate.yaml must refuse it")
    print(f"helm-lint: validate.yaml refuses each of its {len(REFUSED)} rules' cases")

    for override, path in SCHEMA_REFUSED:
        try:
            render(chart, merge(base["single-binary"], override))
        except helm.HelmValuesError as error:
            if path not in str(error):
                fail(f"{override} was refused by the schema without naming {path}: {error}")
        else:
            fail(f"{override} rendered; values.schema.json must refuse it")
    print(f"helm-lint: values.schema.json refuses {len(SCHEMA_REFUSED)} malformed values")

    # 4. Optional parts appear when asked for.
    monitored = kinds(render(chart, merge(base["distributed"], {"serviceMonitor": {"enabled": True}})))
    if monitored.count("ServiceMonitor") != 1:
        fail(f"serviceMonitor.enabled in Distributed should render one ServiceMonitor (gateway), got {monitored}")
    no_jobs = kinds(render(chart, merge(base["single-binary"], {"migration": {"enabled": False}})))
    if "Job" in no_jobs:
        fail("migration.enabled: false still renders a Job")
    print("helm-lint: optional parts (ServiceMonitor, migration Jobs) follow their switches")


if __name__ == "__main__":
    main()
