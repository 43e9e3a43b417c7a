#!/usr/bin/python3
"""Offline checks of the files in deploy/ (run by the *_test.sh scripts beside this file).

  deploy_checks.py compose CONFIG_YAML      `docker-compose config` output
  deploy_checks.py k8s CLUSTER_CONF FILE... Kubernetes manifests (+ make-secrets.sh output)
  deploy_checks.py dockerfile DOCKERFILE    prints the runtime packages and copied programs

Each check prints one line per problem and exits 1 if there was any. There is no container
engine or cluster here, so these checks stand in for one: they hold the files to the
properties deploy/README.md promises (each replica sees only its own keys, never ca.key;
2f+1 replicas stay up; one replica per node; non-root, read-only, no capabilities).
"""

import re
import sys

import yaml

problems = []


def fail(msg):
    problems.append(msg)


def finish():
    for p in problems:
        print("FAIL: " + p)
    sys.exit(1 if problems else 0)


def flag_value(args, flag):
    """The value after `flag` in an argument list, or None."""
    args = [str(a) for a in args or []]
    if flag in args and args.index(flag) + 1 < len(args):
        return args[args.index(flag) + 1]
    return None


# ---------------------------------------------------------------- compose

REPLICA_NAME = re.compile(r"^replica-(\d+)$")
BUNDLE_TARGET = "/etc/belfry"
DATA_TARGET = "/var/lib/belfry"


def check_compose(path):
    cfg = yaml.safe_load(open(path))
    services = cfg.get("services") or {}
    setup = services.get("setup")
    if setup is None:
        fail("compose: no `setup` service")
        return
    replicas = {int(m.group(1)): name for name in services
                if (m := REPLICA_NAME.match(name))}
    others = set(services) - {"setup"} - set(replicas.values())
    if others:
        fail(f"compose: unexpected services {sorted(others)}")
    n = len(replicas)
    if n < 4 or sorted(replicas) != list(range(n)):
        fail(f"compose: replica services must be replica-0..replica-N-1 with N >= 4, got {sorted(replicas)}")

    env = setup.get("environment") or {}
    if str(env.get("BELFRY_REPLICAS")) != str(n):
        fail(f"compose: setup deals BELFRY_REPLICAS={env.get('BELFRY_REPLICAS')} for {n} replica services")
    # The host of replica K in cluster.conf must be the name Docker's DNS gives its service.
    want_hosts = ",".join(f"replica-{k}" for k in range(n))
    if env.get("BELFRY_HOSTS") != want_hosts:
        fail(f"compose: setup BELFRY_HOSTS is {env.get('BELFRY_HOSTS')!r}, expected {want_hosts!r}")
    if setup.get("network_mode") != "none":
        fail("compose: the dealer (setup) must run without a network (network_mode: none)")
    if setup.get("entrypoint") != ["belfry-setup-bundles"]:
        fail(f"compose: setup must run belfry-setup-bundles, runs {setup.get('entrypoint')}")
    if "ALL" not in (setup.get("cap_drop") or []):
        fail("compose: setup must drop all capabilities first")
    extra_caps = set(setup.get("cap_add") or []) - {"CHOWN", "DAC_OVERRIDE", "FOWNER"}
    if extra_caps:
        fail(f"compose: setup adds capabilities it does not need: {sorted(extra_caps)}")

    def mounts(service):
        out = []
        for v in service.get("volumes") or []:
            if isinstance(v, str):
                parts = v.split(":")
                out.append({"type": "bind" if parts[0].startswith(("/", ".", "~")) else "volume",
                            "source": parts[0], "target": parts[1],
                            "read_only": len(parts) > 2 and "ro" in parts[2].split(",")})
            else:
                out.append({"type": v.get("type"), "source": v.get("source"), "target": v.get("target"),
                            "read_only": bool(v.get("read_only"))})
        return out

    setup_mounts = mounts(setup)
    dealer = [m for m in setup_mounts if m["target"] == "/setup"]
    if len(dealer) != 1:
        fail("compose: setup must mount the dealer's folder at /setup")
    dealer_source = dealer[0]["source"] if dealer else None
    bundle_of = {}  # volume -> replica id it is written for
    for m in setup_mounts:
        hit = re.match(r"^/bundles/replica-(\d+)$", m["target"] or "")
        if hit:
            if m["type"] != "volume":
                fail(f"compose: setup's {m['target']} must be a named volume")
            bundle_of[m["source"]] = int(hit.group(1))
        elif m["target"] != "/setup":
            fail(f"compose: setup mounts {m['target']}, which it does not need")

    used_by = {}
    for k, name in sorted(replicas.items()):
        s = services[name]
        where = f"compose: {name}"
        cmd = [str(a) for a in s.get("command") or []]
        if flag_value(cmd, "--id") != str(k):
            fail(f"{where}: runs --id {flag_value(cmd, '--id')}, expected {k}")
        if flag_value(cmd, "--config") != BUNDLE_TARGET + "/cluster.conf":
            fail(f"{where}: --config must be {BUNDLE_TARGET}/cluster.conf")
        if not (flag_value(cmd, "--data") or "").startswith(DATA_TARGET + "/"):
            fail(f"{where}: --data must lie in its data volume at {DATA_TARGET}")
        if flag_value(cmd, "--listen-host") != "0.0.0.0":
            fail(f"{where}: must listen on 0.0.0.0 inside its container (--listen-host)")
        metrics = flag_value(cmd, "--metrics-address") or ""
        health = (s.get("healthcheck") or {}).get("test") or []
        if "--health-check" not in health or flag_value(health, "--health-check") != "127.0.0.1:" + metrics.rpartition(":")[2]:
            fail(f"{where}: the healthcheck must probe the --metrics-address port ({health})")
        dep = (s.get("depends_on") or {}).get("setup") or {}
        if dep.get("condition") != "service_completed_successfully":
            fail(f"{where}: must wait for setup to complete successfully")
        if s.get("restart") != "unless-stopped":
            fail(f"{where}: restart must be unless-stopped")
        if str(s.get("user", "")).split(":")[0] in ("", "0", "root"):
            fail(f"{where}: must run as the image's unprivileged user")
        if not s.get("read_only"):
            fail(f"{where}: root file system must be read-only")
        if "ALL" not in (s.get("cap_drop") or []) or s.get("cap_add"):
            fail(f"{where}: must drop all capabilities and add none")
        for p in s.get("ports") or []:
            text = p if isinstance(p, str) else f"{p.get('host_ip', '')}:{p.get('published')}:{p.get('target')}"
            if not text.startswith("127.0.0.1:"):
                fail(f"{where}: port {text} is published beyond loopback")
        ms = mounts(s)
        targets = sorted(m["target"] for m in ms)
        if targets != sorted([BUNDLE_TARGET, DATA_TARGET]):
            fail(f"{where}: mounts {targets}; a replica mounts only its bundle and its data")
        for m in ms:
            if m["type"] != "volume":
                fail(f"{where}: {m['target']} is a {m['type']} mount; only named volumes are allowed")
            used_by.setdefault(m["source"], []).append(name)
            if m["source"] == dealer_source:
                fail(f"{where}: mounts the dealer's volume, which holds ca.key")
            if m["target"] == BUNDLE_TARGET:
                if not m["read_only"]:
                    fail(f"{where}: its key bundle must be mounted read-only")
                if bundle_of.get(m["source"]) != k:
                    fail(f"{where}: mounts {m['source']}, which setup fills for replica "
                         f"{bundle_of.get(m['source'])}, not {k}")
            if m["target"] == DATA_TARGET and m["source"] in bundle_of:
                fail(f"{where}: its data volume is a key bundle")
    for source, users in used_by.items():
        if len(users) > 1:
            fail(f"compose: volume {source} is mounted by {users}; each replica's volumes are its own")
    if set(bundle_of.values()) != set(range(n)):
        fail(f"compose: setup fills bundles for {sorted(bundle_of.values())}, expected 0..{n - 1}")


# ---------------------------------------------------------------- Kubernetes

KINDS = {("v1", "Service"), ("v1", "ConfigMap"), ("v1", "Secret"), ("apps/v1", "StatefulSet"),
         ("policy/v1", "PodDisruptionBudget")}

# The fields each object level may have (a subset of the API, what deploy/k8s uses or could
# reasonably use). A misspelt field is silently dropped by `kubectl apply --validate=false`
# and by a lax server; here it is an error.
FIELDS = {
    "object": {"apiVersion", "kind", "metadata", "spec", "data", "binaryData", "stringData", "type", "immutable"},
    "metadata": {"name", "labels", "annotations", "creationTimestamp"},
    "Service.spec": {"type", "clusterIP", "publishNotReadyAddresses", "selector", "ports",
                     "sessionAffinity", "externalTrafficPolicy", "internalTrafficPolicy",
                     "loadBalancerSourceRanges", "ipFamilyPolicy"},
    "ServicePort": {"name", "port", "targetPort", "protocol", "nodePort", "appProtocol"},
    "PodDisruptionBudget.spec": {"minAvailable", "maxUnavailable", "selector", "unhealthyPodEvictionPolicy"},
    "StatefulSet.spec": {"replicas", "serviceName", "podManagementPolicy", "updateStrategy", "selector",
                         "template", "volumeClaimTemplates", "minReadySeconds", "revisionHistoryLimit",
                         "persistentVolumeClaimRetentionPolicy", "ordinals"},
    "template": {"metadata", "spec"},
    "PodSpec": {"automountServiceAccountToken", "enableServiceLinks", "terminationGracePeriodSeconds",
                "securityContext", "affinity", "initContainers", "containers", "volumes",
                "serviceAccountName", "priorityClassName", "nodeSelector", "tolerations",
                "topologySpreadConstraints", "imagePullSecrets", "dnsConfig", "dnsPolicy"},
    "PodSecurityContext": {"runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "fsGroupChangePolicy",
                           "seccompProfile", "supplementalGroups", "sysctls"},
    "Container": {"name", "image", "imagePullPolicy", "command", "args", "ports", "env", "envFrom",
                  "resources", "securityContext", "volumeMounts", "readinessProbe", "livenessProbe",
                  "startupProbe", "lifecycle", "workingDir", "terminationMessagePolicy"},
    "ContainerPort": {"name", "containerPort", "protocol"},
    "SecurityContext": {"allowPrivilegeEscalation", "readOnlyRootFilesystem", "runAsNonRoot", "runAsUser",
                        "runAsGroup", "capabilities", "privileged", "seccompProfile"},
    "Probe": {"httpGet", "tcpSocket", "exec", "grpc", "initialDelaySeconds", "periodSeconds",
              "timeoutSeconds", "failureThreshold", "successThreshold", "terminationGracePeriodSeconds"},
    "HTTPGetAction": {"path", "port", "scheme", "host", "httpHeaders"},
    "Resources": {"requests", "limits"},
    "VolumeMount": {"name", "mountPath", "readOnly", "subPath"},
    "Volume": {"name", "configMap", "secret", "emptyDir", "persistentVolumeClaim", "projected"},
    "PVC": {"metadata", "spec"},
    "PVC.spec": {"accessModes", "resources", "storageClassName", "volumeMode"},
}


def known_fields(obj, level, where):
    if not isinstance(obj, dict):
        fail(f"{where}: expected a mapping")
        return {}
    unknown = set(obj) - FIELDS[level]
    if unknown:
        fail(f"{where}: unknown field(s) {sorted(unknown)}")
    return obj


def secret_names(node):
    """Every Secret a pod spec reaches: volumes, projected sources, env and envFrom."""
    found = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "secret" and isinstance(value, dict):
                found.add(value.get("secretName") or value.get("name"))
            elif key in ("secretKeyRef", "secretRef") and isinstance(value, dict):
                found.add(value.get("name"))
            found |= secret_names(value)
    elif isinstance(node, list):
        for item in node:
            found |= secret_names(item)
    return found


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_container(c, where, init):
    known_fields(c, "Container", where)
    sc = known_fields(c.get("securityContext") or {}, "SecurityContext", where + ".securityContext")
    if sc.get("readOnlyRootFilesystem") is not True:
        fail(f"{where}: readOnlyRootFilesystem must be true")
    if sc.get("allowPrivilegeEscalation") is not False:
        fail(f"{where}: allowPrivilegeEscalation must be false")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []) or (sc.get("capabilities") or {}).get("add"):
        fail(f"{where}: must drop ALL capabilities and add none")
    if sc.get("privileged"):
        fail(f"{where}: must not be privileged")
    res = known_fields(c.get("resources") or {}, "Resources", where + ".resources")
    for kind in ("requests", "limits"):
        if not {"cpu", "memory"} <= set(res.get(kind) or {}):
            fail(f"{where}: resources.{kind} must set cpu and memory")
    for p in c.get("ports") or []:
        known_fields(p, "ContainerPort", where + ".ports")
    for m in c.get("volumeMounts") or []:
        known_fields(m, "VolumeMount", where + ".volumeMounts")
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        if probe in c:
            known_fields(c[probe], "Probe", f"{where}.{probe}")
            known_fields(c[probe].get("httpGet") or {}, "HTTPGetAction", f"{where}.{probe}.httpGet")
    if init and any(p in c for p in ("readinessProbe", "livenessProbe", "startupProbe")):
        fail(f"{where}: an init container cannot have probes")


def parse_cluster_conf(path):
    """The replicas' (host, peer_port, client_port) from cluster.conf, in id order."""
    text = open(path).read()
    out = []
    for block in re.findall(r"^replicas \{\n(.*?)^\}", text, re.S | re.M):
        fields = dict(re.findall(r"^\s*(\w+): \"?([^\"\n]*)\"?$", block, re.M))
        out.append((int(fields.get("id", 0)), fields["host"], int(fields["peer_port"]), int(fields["client_port"])))
    out.sort()
    f = int(re.search(r"^f: (\d+)$", text, re.M).group(1))
    return out, f


def check_pod(sts, k, replica, services, configmaps):
    name = sts["metadata"]["name"]
    where = f"k8s: StatefulSet {name}"
    spec = known_fields(sts.get("spec") or {}, "StatefulSet.spec", where + ".spec")
    if spec.get("replicas") != 1:
        fail(f"{where}: replicas must be 1 (a second pod would hold the same keys)")
    if spec.get("podManagementPolicy") != "Parallel":
        fail(f"{where}: podManagementPolicy must be Parallel")
    template = known_fields(spec.get("template") or {}, "template", where + ".template")
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selects((spec.get("selector") or {}).get("matchLabels"), labels):
        fail(f"{where}: selector does not match the pod template's labels")
    if labels.get("belfry-replica") != str(k):
        fail(f"{where}: pod label belfry-replica must be {k}")
    headless = services.get(spec.get("serviceName"))
    if not headless or (headless.get("spec") or {}).get("clusterIP") != "None":
        fail(f"{where}: serviceName {spec.get('serviceName')} is not a headless Service here")
    else:
        hs = headless["spec"]
        if hs.get("publishNotReadyAddresses") is not True:
            fail(f"k8s: Service {spec.get('serviceName')}: publishNotReadyAddresses must be true")
        if not selects(hs.get("selector"), labels):
            fail(f"k8s: Service {spec.get('serviceName')} does not select {name}'s pod")
    # The name cluster.conf gives replica K must be its pod's DNS name under that Service.
    host = replica[1]
    pod_dns = f"{name}-0.{spec.get('serviceName')}"
    if host != pod_dns and not host.startswith(pod_dns + "."):
        fail(f"{where}: cluster.conf names replica {k} {host!r}, but its pod is {pod_dns}")

    pod = known_fields(template.get("spec") or {}, "PodSpec", where + ".spec.template.spec")
    psc = known_fields(pod.get("securityContext") or {}, "PodSecurityContext", where + ".securityContext")
    if psc.get("runAsNonRoot") is not True or not psc.get("runAsUser"):
        fail(f"{where}: pod must run as a non-root uid (runAsNonRoot, runAsUser)")
    if pod.get("automountServiceAccountToken") is not False:
        fail(f"{where}: automountServiceAccountToken must be false")
    anti = ((pod.get("affinity") or {}).get("podAntiAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution") or []
    if not any(t.get("topologyKey") == "kubernetes.io/hostname" and
               selects((t.get("labelSelector") or {}).get("matchLabels"),
                       {kk: vv for kk, vv in labels.items() if kk != "belfry-replica"})
               for t in anti):
        fail(f"{where}: needs required podAntiAffinity on kubernetes.io/hostname against every replica")

    volumes = {}
    for v in pod.get("volumes") or []:
        known_fields(v, "Volume", where + ".volumes")
        volumes[v.get("name")] = v
    reached = secret_names(pod)
    if reached != {f"belfry-replica-{k}"}:
        fail(f"{where}: reaches Secrets {sorted(x for x in reached if x)}; must reach only belfry-replica-{k}")
    for v in volumes.values():
        if "configMap" in v and v["configMap"].get("name") not in configmaps:
            fail(f"{where}: ConfigMap {v['configMap'].get('name')} is not defined")
        if "secret" in v and v["secret"].get("defaultMode", 0o400) & 0o077:
            fail(f"{where}: Secret volume mode must not give group or others access")

    for c in pod.get("initContainers") or []:
        check_container(c, f"{where} init container {c.get('name')}", init=True)
    containers = pod.get("containers") or []
    if len(containers) != 1:
        fail(f"{where}: expected exactly one container")
        return
    c = containers[0]
    cw = f"{where} container {c.get('name')}"
    check_container(c, cw, init=False)
    args = [str(a) for a in c.get("args") or []]
    if flag_value(args, "--id") != str(k):
        fail(f"{cw}: runs --id {flag_value(args, '--id')}, expected {k}")
    if flag_value(args, "--listen-host") != "0.0.0.0":
        fail(f"{cw}: must listen on 0.0.0.0 (--listen-host)")
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
    if ports.get("peer") != replica[2] or ports.get("client") != replica[3]:
        fail(f"{cw}: ports {ports} differ from cluster.conf's peer {replica[2]} / client {replica[3]}")
    metrics_port = (flag_value(args, "--metrics-address") or "").rpartition(":")[2]
    if str(ports.get("metrics")) != metrics_port:
        fail(f"{cw}: port `metrics` is not the --metrics-address port {metrics_port}")
    ready = (c.get("readinessProbe") or {}).get("httpGet") or {}
    live = (c.get("livenessProbe") or {}).get("httpGet") or {}
    if ready.get("path") != "/healthz" or ready.get("port") not in ("metrics", ports.get("metrics")):
        fail(f"{cw}: readinessProbe must GET /healthz on the metrics port")
    if live.get("path") not in ("/livez", "/healthz") or live.get("port") not in ("metrics", ports.get("metrics")):
        fail(f"{cw}: livenessProbe must GET /livez on the metrics port")
    mounts = {m.get("mountPath"): m for m in c.get("volumeMounts") or []}
    claims = {t.get("metadata", {}).get("name") for t in spec.get("volumeClaimTemplates") or []}
    for t in spec.get("volumeClaimTemplates") or []:
        known_fields(t, "PVC", where + ".volumeClaimTemplates")
        known_fields(t.get("spec") or {}, "PVC.spec", where + ".volumeClaimTemplates.spec")
    data_path = flag_value(args, "--data") or ""
    data = [m for path, m in mounts.items() if data_path.startswith(path.rstrip("/") + "/")]
    if len(data) != 1 or data[0].get("name") not in claims:
        fail(f"{cw}: --data must lie in a volumeClaimTemplates volume")
    etc = mounts.get("/etc/belfry")
    if not etc or not etc.get("readOnly"):
        fail(f"{cw}: /etc/belfry must be mounted read-only")
    for path, m in mounts.items():
        v = volumes.get(m.get("name"))
        if v and "secret" in v:
            fail(f"{cw}: mounts a Secret directly at {path}; key files must come through the init copy")


def check_k8s(cluster_conf, paths):
    replicas, f = parse_cluster_conf(cluster_conf)
    n = len(replicas)
    objects = []
    for path in paths:
        for doc in yaml.safe_load_all(open(path)):
            if doc is not None:
                objects.append((path, doc))
    by_kind = {}
    for path, o in objects:
        kind = (o.get("apiVersion"), o.get("kind"))
        name = (o.get("metadata") or {}).get("name")
        where = f"k8s: {path}: {kind[1]} {name}"
        if kind not in KINDS:
            fail(f"{where}: unexpected apiVersion/kind {kind}")
            continue
        known_fields(o, "object", where)
        meta = known_fields(o.get("metadata") or {}, "metadata", where + ".metadata")
        if "namespace" in (o.get("metadata") or {}):
            fail(f"{where}: names a namespace; the manifests must be namespace-agnostic")
        if not meta.get("name"):
            fail(f"{where}: no metadata.name")
        if name in by_kind.setdefault(kind[1], {}):
            fail(f"{where}: defined twice")
        by_kind[kind[1]][name] = o

    services = by_kind.get("Service", {})
    for name, s in services.items():
        spec = known_fields(s.get("spec") or {}, "Service.spec", f"k8s: Service {name}.spec")
        for p in spec.get("ports") or []:
            known_fields(p, "ServicePort", f"k8s: Service {name}.ports")
    configmaps = by_kind.get("ConfigMap", {})
    config_keys = set()
    if "belfry-config" in configmaps:
        config = configmaps["belfry-config"]
        config_keys = set(config.get("data") or {}) | set(config.get("binaryData") or {})
    if set(configmaps) != {"belfry-config"} or config_keys != {"cluster.conf", "ca.crt", "service-key.pub", "service.crt"}:
        fail("k8s: expected one ConfigMap belfry-config holding cluster.conf, ca.crt, service-key.pub and service.crt")

    secrets = by_kind.get("Secret", {})
    if set(secrets) != {f"belfry-replica-{k}" for k in range(n)}:
        fail(f"k8s: Secrets are {sorted(secrets)}, expected belfry-replica-0..{n - 1}")
    for name, s in secrets.items():
        keys = set(s.get("data") or {}) | set(s.get("stringData") or {})
        if keys != {"tls.crt", "tls.key", "reply.key", "coin.share", "tdh2.share", "service.share"}:
            fail(f"k8s: Secret {name} holds {sorted(keys)}")

    sets = by_kind.get("StatefulSet", {})
    if set(sets) != {f"belfry-{k}" for k in range(n)}:
        fail(f"k8s: StatefulSets are {sorted(sets)}, expected belfry-0..belfry-{n - 1} (one per replica)")
    pod_labels = []
    for k in range(n):
        sts = sets.get(f"belfry-{k}")
        if sts:
            check_pod(sts, k, replicas[k], services, configmaps)
            pod_labels.append(((sts.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {})

    pdbs = by_kind.get("PodDisruptionBudget", {})
    if len(pdbs) != 1:
        fail(f"k8s: expected one PodDisruptionBudget, found {len(pdbs)}")
    for name, pdb in pdbs.items():
        spec = known_fields(pdb.get("spec") or {}, "PodDisruptionBudget.spec", f"k8s: PodDisruptionBudget {name}.spec")
        if spec.get("minAvailable") != n - f or "maxUnavailable" in spec:
            fail(f"k8s: PodDisruptionBudget {name}: minAvailable must be 2f+1 = {n - f}, is {spec.get('minAvailable')}")
        sel = (spec.get("selector") or {}).get("matchLabels")
        if not all(selects(sel, labels) for labels in pod_labels):
            fail(f"k8s: PodDisruptionBudget {name} does not select every replica pod")
    for name, s in services.items():
        sel = (s.get("spec") or {}).get("selector")
        if not any(selects(sel, labels) for labels in pod_labels):
            fail(f"k8s: Service {name} selects no replica pod")


# ---------------------------------------------------------------- Dockerfile

def dockerfile_instructions(path):
    """(stage index, INSTRUCTION, rest) for each instruction, continuations joined."""
    lines, cur = [], ""
    for raw in open(path).read().splitlines():
        if not cur and (raw.strip().startswith("#") or not raw.strip()):
            continue
        if cur and raw.strip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            cur += raw.rstrip()[:-1] + " "
        else:
            lines.append(cur + raw)
            cur = ""
    stage, out = -1, []
    for line in lines:
        word, _, rest = line.strip().partition(" ")
        word = word.upper()
        if word == "FROM":
            stage += 1
        out.append((stage, word, rest.strip()))
    return out


def check_dockerfile(path):
    ins = dockerfile_instructions(path)
    # Base images may be build arguments declared before the first FROM; what is checked is
    # what a plain `docker build` uses, their defaults. One without a default stays `${NAME}`
    # and fails the Debian 12 check below.
    defaults = {}
    for stage, w, rest in ins:
        if stage == -1 and w == "ARG":
            name, eq, value = rest.partition("=")
            if eq:
                defaults[name.strip()] = value.strip().strip('"')

    def resolve(text):
        return re.sub(r"\$\{(\w+)\}|\$(\w+)",
                      lambda m: defaults.get(m.group(1) or m.group(2), m.group(0)), text)

    froms = [resolve(rest) for _, w, rest in ins if w == "FROM"]
    if len(froms) < 2:
        fail("Dockerfile: must be multi-stage (a build stage and a runtime stage)")
        return
    for f in froms:
        if not re.match(r"^debian:12(-slim)?(\s+AS\s+\w+)?$", f, re.I):
            fail(f"Dockerfile: base image {f!r} is not Debian 12")
    build_name = re.search(r"\s+AS\s+(\w+)$", froms[0], re.I)
    last = len(froms) - 1
    build = [(w, r) for s, w, r in ins if s == 0]
    final = [(w, r) for s, w, r in ins if s == last]
    runs = " ".join(r for w, r in build if w == "RUN")
    if "scripts/install-deps.sh --build-only" not in runs:
        fail("Dockerfile: the build stage must install packages with scripts/install-deps.sh --build-only")
    if not re.search(r"CMAKE_BUILD_TYPE=Release\b", runs):
        fail("Dockerfile: the build stage must configure a Release build")
    targets = re.findall(r"--target\s+((?:[\w-]+\s*)+)", runs)
    built = set(" ".join(targets).split())

    # Final stage.
    if any(w == "COPY" and not r.startswith("--from=") and "deploy/docker/" not in r for w, r in final):
        fail("Dockerfile: the runtime stage may copy only programs from the build stage")
    copied = set()
    for w, r in final:
        if w == "COPY" and r.startswith("--from="):
            if build_name is None or r.split()[0] != "--from=" + build_name.group(1):
                fail(f"Dockerfile: runtime COPY {r!r} is not from the build stage")
            srcs = r.split()[1:-1]
            for s in srcs:
                if not s.startswith("/build/bin/"):
                    fail(f"Dockerfile: runtime stage copies {s}, which is not a built program")
                copied.add(s.rsplit("/", 1)[1])
    if not copied or not copied <= built:
        fail(f"Dockerfile: copies {sorted(copied)} but builds only {sorted(built)}")
    if "belfry-replica" not in copied:
        fail("Dockerfile: does not copy belfry-replica")
    users = [r for w, r in final if w == "USER"]
    if not users or users[-1].split(":")[0] in ("0", "root"):
        fail("Dockerfile: the runtime stage must end as a non-root USER")
    elif not re.search(rf"useradd\b.*--uid {re.escape(users[-1].split(':')[0])}\b",
                       " ".join(r for w, r in final if w == "RUN")):
        fail(f"Dockerfile: USER {users[-1]} is not created with useradd --uid")
    after_user = [w for w, _ in final[[i for i, (w, _) in enumerate(final) if w == "USER"][-1]:]] if users else []
    if "RUN" in after_user:
        fail("Dockerfile: RUN after USER: the runtime stage should switch user last")
    if not any(w == "VOLUME" and "/var/lib/belfry" in r for w, r in final):
        fail("Dockerfile: VOLUME /var/lib/belfry missing")
    if not any(w == "EXPOSE" for w, r in final):
        fail("Dockerfile: EXPOSE missing")
    health = [r for w, r in final if w == "HEALTHCHECK"]
    if not health or not re.search(r'"belfry-replica",\s*"--health-check",\s*"127\.0\.0\.1:\d+"', health[-1]):
        fail("Dockerfile: HEALTHCHECK must run belfry-replica --health-check 127.0.0.1:PORT (exec form)")
    entry = [r for w, r in final if w == "ENTRYPOINT"]
    if not entry or entry[-1] != '["belfry-replica"]':
        fail("Dockerfile: ENTRYPOINT must be [\"belfry-replica\"]")
    arg = [r for w, r in final if w == "ARG" and r.startswith("RUNTIME_PACKAGES=")]
    if len(arg) != 1:
        fail("Dockerfile: the runtime stage must list its packages in one ARG RUNTIME_PACKAGES")
        return
    packages = arg[0].split("=", 1)[1].strip().strip('"').split()
    installs = " ".join(r for w, r in final if w == "RUN")
    if not re.search(r"apt-get install -y --no-install-recommends \$\{RUNTIME_PACKAGES\}", installs):
        fail("Dockerfile: the runtime stage must apt-get install --no-install-recommends ${RUNTIME_PACKAGES}")
    if problems:
        return
    print("packages " + " ".join(sorted(packages)))
    print("programs " + " ".join(sorted(copied)))


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    what = sys.argv[1]
    if what == "compose":
        check_compose(sys.argv[2])
    elif what == "k8s":
        check_k8s(sys.argv[2], sys.argv[3:])
    elif what == "dockerfile":
        check_dockerfile(sys.argv[2])
    else:
        print(__doc__)
        sys.exit(2)
    finish()


if __name__ == "__main__":
    main()
