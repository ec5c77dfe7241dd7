#!/usr/bin/env bash
# Checks the Helm chart (helm/sharedmetrics) without a cluster, a docker engine or the helm
# binary, all from PyPI packages in a virtualenv under .venv-helm/:
#   1. helm lint --strict with every ci/*-values.yaml, with Helm's own Go SDK (helm-python-sdk);
#   2. renders each of them (values.schema.json included) into target/helm-lint/<name>/;
#   3. asserts that ci/contradictory-values.yaml does NOT render (templates/validate.yaml refuses
#      it), nor each rule's own case; (helm lint alone would not catch these: in lint mode Helm
#      turns `fail` into a log line);
#   4. validates every rendered manifest against the Kubernetes 1.33 schemas, strictly
#      (kubernetes-validate);
#   5. runs checkov's Kubernetes policies on the rendered manifests: any failed check fails the
#      script; the chart skips three checks with checkov.io/skip-* annotations that carry their
#      reasons (see sharedmetrics.checkovSkips in templates/_helpers.tpl);
#   6. runs checkov's Dockerfile policies on the Dockerfile that builds the image the chart runs
#      (it cannot be built here: no docker engine).
# Exits non-zero on the first problem. Usage: scripts/helm-lint.sh (or make helm-lint).
set -euo pipefail
cd "$(dirname "$0")/.."

CHART=helm/sharedmetrics
VENV=.venv-helm
OUT=target/helm-lint
KUBE_VERSION=1.33.0
# Pinned so every machine checks with the same Helm SDK, schemas and policies.
REQUIREMENTS="helm-python-sdk==0.2.2 kubernetes-validate==1.37.0 checkov==3.3.30"

if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.requirements" 2>/dev/null)" != "$REQUIREMENTS" ]; then
  echo "helm-lint: installing $REQUIREMENTS into $VENV (first run takes a few minutes)"
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086 # one word per requirement
  "$VENV/bin/pip" install --quiet --disable-pip-version-check $REQUIREMENTS
  echo "$REQUIREMENTS" >"$VENV/.requirements"
fi

# 1-3: lint, render, refusals.
"$VENV/bin/python" scripts/helm_chart.py --chart "$CHART" --out "$OUT" --kube-version "$KUBE_VERSION"

# 4: every rendered manifest against the Kubernetes schemas, rejecting unknown fields.
mapfile -t manifests < <(find "$OUT" -name '*.yaml' | sort)
[ "${#manifests[@]}" -gt 0 ] || { echo "helm-lint: FAIL: nothing rendered under $OUT" >&2; exit 1; }
validation=$("$VENV/bin/kubernetes-validate" --strict -k "$KUBE_VERSION" --quiet "${manifests[@]}" 2>&1) || {
  echo "$validation" >&2
  echo "helm-lint: FAIL: kubernetes-validate" >&2
  exit 1
}
if grep -q '^ERROR' <<<"$validation"; then
  echo "$validation" >&2
  echo "helm-lint: FAIL: kubernetes-validate reported errors" >&2
  exit 1
fi
[ -z "$validation" ] || echo "$validation"
echo "helm-lint: ${#manifests[@]} manifests valid for Kubernetes $KUBE_VERSION (kubernetes-validate --strict)"

# 5: checkov. Every skip must give its reason (checkov.io/skip-*: "CKV_…=reason").
if grep -rhE '^\s*checkov\.io/skip[^:]*:' "$OUT" | grep -vE ':\s*"?CKV[0-9]*_[A-Z0-9_]+=.{10,}'; then
  echo "helm-lint: FAIL: a checkov.io/skip annotation above has no reason" >&2
  exit 1
fi
# --skip-download: no calls to the vendor's platform (not reachable here, and not needed).
"$VENV/bin/checkov" -d "$OUT" --framework kubernetes --quiet --compact --skip-download
skipped=$(grep -rhoE 'checkov\.io/skip[^:]*: "?CKV[0-9]*_[A-Z0-9_]+' "$OUT" | sed -E 's/.*"?(CKV[0-9]*_[A-Z0-9_]+)$/\1/' | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')
echo "helm-lint: checkov passes (skipped with reasons in the chart: $skipped)"

# 6: the image's Dockerfile (its one skip carries its reason in a checkov:skip comment).
"$VENV/bin/checkov" -f Dockerfile --framework dockerfile --quiet --compact --skip-download
echo "helm-lint: checkov passes on the Dockerfile"
echo "helm-lint: OK"
