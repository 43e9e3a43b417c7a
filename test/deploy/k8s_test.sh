#!/usr/bin/env bash
# deploy/k8s/: replicas.yaml is what render.sh prints; make-secrets.sh turns a belfry-setup
# folder into one Secret per replica with exactly that replica's files (never ca.key or a
# user key); and every object holds to deploy/README.md (test/deploy/deploy_checks.py): known
# kinds and fields, one single-pod StatefulSet per replica reaching only its own Secret,
# pod DNS names equal to cluster.conf's hosts, PDB minAvailable 2f+1, required anti-affinity,
# non-root read-only pods without capabilities. kubectl validates offline only where it can.
# Then broken copies must be refused, each for its own reason. Usage: k8s_test.sh SRC BIN
set -euo pipefail
SRC=$1
BIN=$2
HERE=$(cd "$(dirname "$0")" && pwd)
K8S="$SRC/deploy/k8s"
WORK=$(mktemp -d /tmp/belfry-deploy-k8s.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The committed manifests are the renderer's output.
"$K8S/render.sh" >"$WORK/rendered.yaml"
diff -u "$K8S/replicas.yaml" "$WORK/rendered.yaml" >&2 ||
  fail "deploy/k8s/replicas.yaml differs from render.sh's output; regenerate it"

# A cluster dealt as deploy/README.md says for Kubernetes, then its Secrets.
hosts=belfry-0-0.belfry,belfry-1-0.belfry,belfry-2-0.belfry,belfry-3-0.belfry
"$BIN/belfry-setup" init --insecure-service-key-primes "$BIN/test-service-key-primes.txt" --replicas 4 --hosts "$hosts" --users alice --out "$WORK/cluster" >/dev/null
KUBECONFIG=/dev/null "$K8S/make-secrets.sh" "$WORK/cluster" >"$WORK/secrets.yaml"

# Nothing of the CA key or a user key reaches the output, raw or base64.
for secret in "$WORK/cluster/ca.key" "$WORK/cluster/users/alice/alice.key"; do
  if grep -qF -- "$(base64 -w0 "$secret")" "$WORK/secrets.yaml" ||
    grep -qF -- "$(sed -n 2p "$secret")" "$WORK/secrets.yaml"; then
    fail "make-secrets.sh output contains $secret"
  fi
done
# Each Secret holds replica K's own files, byte for byte.
/usr/bin/python3 - "$WORK/secrets.yaml" "$WORK/cluster" <<'PY' || fail "Secret contents differ from the dealt files"
import base64, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "Secret"]
assert len(docs) == 4, len(docs)
for d in docs:
    k = d["metadata"]["name"].rsplit("-", 1)[1]
    for name, value in d["data"].items():
        want = open(f"{sys.argv[2]}/replicas/replica-{k}/{name}", "rb").read()
        assert base64.b64decode(value) == want, (d["metadata"]["name"], name)
PY

# kubectl cannot apply, even with --dry-run=client, without an API server to ask for its
# resource types. With one (this config points nowhere) it validates too; without, the
# schema-level checks below are all there is, and any other kubectl error is a failure.
cat >"$WORK/kubeconfig" <<'KC'
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
KC
if KUBECONFIG="$WORK/kubeconfig" timeout 20 kubectl apply --dry-run=client --validate=false \
  -f "$K8S/" -f "$WORK/secrets.yaml" </dev/null >"$WORK/kubectl.out" 2>&1; then
  echo "kubectl apply --dry-run=client: ok"
elif grep -qE 'connection refused|unable to recognize|server API group list' "$WORK/kubectl.out"; then
  echo "kubectl cannot validate without an API server; schema-level checks only"
else
  cat "$WORK/kubectl.out" >&2; fail "kubectl apply --dry-run=client refused the manifests"
fi

check() {  # check FILE...: the schema-level checks against the dealt cluster.conf
  /usr/bin/python3 "$HERE/deploy_checks.py" k8s "$WORK/cluster/cluster.conf" "$@"
}
manifests=("$K8S"/*.yaml)
check "${manifests[@]}" "$WORK/secrets.yaml" >"$WORK/out" 2>&1 || { cat "$WORK/out" >&2; fail "deploy/k8s"; }

# The init container's copy, run for real on volumes laid out as the kubelet lays them out
# (each file a symlink into ..data; Secret files group-readable through fsGroup): replica 1
# must end up with exactly its files, key files 0600, and the loaders' checks satisfied.
/usr/bin/python3 - "$K8S/replicas.yaml" "$WORK/secrets.yaml" "$WORK/pod" <<'PY' || fail "cannot lay out the pod's volumes"
import base64, os, sys, yaml
sts = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["metadata"]["name"] == "belfry-1"][0]
init = sts["spec"]["template"]["spec"]["initContainers"][0]
root = sys.argv[3]
script = init["command"][-1].replace("/in/", root + "/in/").replace("/etc/belfry", root + "/etc/belfry")
open(root + ".sh", "w").write(script)
objs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(open(sys.argv[2])) if d}
for volume, obj, mode in (("config", objs["belfry-config"], 0o644), ("keys", objs["belfry-replica-1"], 0o440)):
    data_dir = f"{root}/in/{volume}/..2024_01_01_00_00_00.000000000"
    os.makedirs(data_dir)
    os.symlink(os.path.basename(data_dir), f"{root}/in/{volume}/..data")
    files = [(name, value.encode() if volume == "config" else base64.b64decode(value))
             for name, value in (obj.get("data") or {}).items()]
    files += [(name, base64.b64decode(value)) for name, value in (obj.get("binaryData") or {}).items()]
    for name, raw in files:
        with open(f"{data_dir}/{name}", "wb") as f:
            f.write(raw)
        os.chmod(f"{data_dir}/{name}", mode)
        os.symlink(f"..data/{name}", f"{root}/in/{volume}/{name}")
os.makedirs(root + "/etc/belfry")
PY
# 022: the umask a container runtime gives a process.
(umask 022 && /bin/sh -ec "$(cat "$WORK/pod.sh")") || fail "the init container's script failed"
got=$(cd "$WORK/pod/etc/belfry" && find . -mindepth 1 -printf '%m %y %p\n' | sort)
want=$(printf '%s\n' "644 f ./ca.crt" "644 f ./cluster.conf" "644 f ./service-key.pub" "644 f ./service.crt" \
  "755 d ./replicas" "700 d ./replicas/replica-1" "644 f ./replicas/replica-1/tls.crt" \
  "600 f ./replicas/replica-1/tls.key" "600 f ./replicas/replica-1/reply.key" \
  "600 f ./replicas/replica-1/coin.share" "600 f ./replicas/replica-1/tdh2.share" \
  "600 f ./replicas/replica-1/service.share" | sort)
[ "$got" = "$want" ] || fail "the init container installed:
$got
expected:
$want"
for f in tls.key reply.key coin.share tdh2.share service.share; do
  cmp -s "$WORK/pod/etc/belfry/replicas/replica-1/$f" "$WORK/cluster/replicas/replica-1/$f" ||
    fail "the init container's $f is not replica 1's"
done

broken() {  # broken "EXPECTED OUTPUT" FILE SED_SCRIPT: FILE edited must fail with that text
  local want=$1 file=$2 script=$3 args=()
  sed -e "$script" "$file" >"$WORK/broken.yaml"
  cmp -s "$WORK/broken.yaml" "$file" && fail "sed '$script' changed nothing; the mutation is stale"
  for m in "${manifests[@]}" "$WORK/secrets.yaml"; do
    if [ "$m" = "$file" ]; then args+=("$WORK/broken.yaml"); else args+=("$m"); fi
  done
  check "${args[@]}" >"$WORK/out" 2>&1 && fail "$(basename "$file") with '$script' passed the checks"
  grep -qF -- "$want" "$WORK/out" || { cat "$WORK/out" >&2; fail "'$script' failed, but not with '$want'"; }
}
R="$K8S/replicas.yaml"
broken "reaches Secrets ['belfry-replica-0']; must reach only belfry-replica-1" "$R" \
  's/secretName: belfry-replica-1$/secretName: belfry-replica-0/'
broken "minAvailable must be 2f+1 = 3, is 2" "$R" 's/minAvailable: 3/minAvailable: 2/'
broken "needs required podAntiAffinity" "$R" '0,/topologyKey: kubernetes.io\/hostname/s//topologyKey: topology.kubernetes.io\/zone/'
broken "unknown field(s) ['readinessprobe']" "$R" '0,/readinessProbe:/s//readinessprobe:/'
broken "replicas must be 1" "$R" '0,/replicas: 1$/s//replicas: 2/'
broken "readOnlyRootFilesystem must be true" "$R" '0,/readOnlyRootFilesystem: true/s//readOnlyRootFilesystem: false/'
broken "must drop ALL capabilities" "$R" '0,/- ALL/s//- NET_RAW/'
broken "runs --id 0, expected 2" "$R" '/- --id$/{n;s/- "2"$/- "0"/}'
broken "publishNotReadyAddresses must be true" "$K8S/service.yaml" '/publishNotReadyAddresses/d'
broken "names a namespace" "$K8S/service.yaml" 's/^  name: belfry$/  name: belfry\n  namespace: default/'
broken "Secret belfry-replica-0 holds ['ca.key'" "$WORK/secrets.yaml" '0,/^  coin.share:/s//  ca.key:/'
echo "ok: k8s"
