#!/usr/bin/env bash
# Validates deploy/k8s/resnet8.yaml without a cluster: YAML syntax (yamllint),
# the Kubernetes wiring (kinds and API versions, selectors matching labels, the
# Service's target port on the pods, the Job dialling the Service), and every
# --flag against the programs' own --helpfull, so the manifest cannot drift
# from the code. (No schema validator for Kubernetes is packaged in Debian 12.)
# Usage: validate.sh BUILD_BIN_DIR [MANIFEST]
set -euo pipefail
bin=$1
here="$(cd "$(dirname "$0")" && pwd)"
manifest="${2:-$here/resnet8.yaml}"

yamllint -d '{extends: default, rules: {line-length: {max: 120}, document-start: disable}}' "$manifest"

"$bin/resnet8_server" --helpfull > /tmp/resnet8_server_flags.$$ 2>&1 || true
"$bin/resnet8_client" --helpfull > /tmp/resnet8_client_flags.$$ 2>&1 || true
trap 'rm -f /tmp/resnet8_server_flags.$$ /tmp/resnet8_client_flags.$$' EXIT

/usr/bin/python3 - "$manifest" /tmp/resnet8_server_flags.$$ /tmp/resnet8_client_flags.$$ <<'PY'
import re, sys, yaml

manifest, server_help, client_help = sys.argv[1:]
docs = [d for d in yaml.safe_load_all(open(manifest)) if d]
by_kind = {d["kind"]: d for d in docs}
problems = []
def check(ok, what):
    if not ok:
        problems.append(what)

expected = {"Deployment": "apps/v1", "Service": "v1", "Job": "batch/v1"}
check(sorted(by_kind) == sorted(expected), f"kinds {sorted(by_kind)}, expected {sorted(expected)}")
for kind, version in expected.items():
    check(by_kind.get(kind, {}).get("apiVersion") == version, f"{kind} apiVersion should be {version}")

deployment, service, job = by_kind["Deployment"], by_kind["Service"], by_kind["Job"]
pod = deployment["spec"]["template"]
selector = deployment["spec"]["selector"]["matchLabels"]
check(all(pod["metadata"]["labels"].get(k) == v for k, v in selector.items()),
      "Deployment selector does not match its pod labels")
check(all(pod["metadata"]["labels"].get(k) == v for k, v in service["spec"]["selector"].items()),
      "Service selector does not match the server pods")
check(service["spec"].get("clusterIP") == "None", "Service must be headless (clusterIP: None)")
server = pod["spec"]["containers"][0]
port_names = {p["name"]: p["containerPort"] for p in server["ports"]}
for port in service["spec"]["ports"]:
    check(port["targetPort"] in port_names, f"Service targetPort {port['targetPort']} is not a pod port")
args = server["args"]
listen = next((a.split("=", 1)[1] for a in args if a.startswith("--address=")), "")
check(listen.endswith(f":{port_names.get('grpc')}"), f"--address {listen} is not the grpc port")
check(server["readinessProbe"]["grpc"]["port"] == port_names.get("grpc"), "readiness probe is not on the grpc port")
check(job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure"), "Job restartPolicy")
client = job["spec"]["template"]["spec"]["containers"][0]
target = next((a.split("=", 1)[1] for a in client["args"] if a.startswith("--server=")), "")
check(re.fullmatch(rf"dns:///{service['metadata']['name']}:{service['spec']['ports'][0]['port']}", target) is not None,
      f"Job --server={target} does not dial the Service")
for container, help_file, program in ((server, server_help, "resnet8_server"), (client, client_help, "resnet8_client")):
    known = set(re.findall(r"--([a-z_0-9]+)", open(help_file).read()))
    check(len(known) > 5, f"could not read {program} --helpfull")
    for arg in container.get("args", []):
        if arg.startswith("--"):
            flag = arg[2:].split("=", 1)[0]
            check(flag in known, f"{program} has no flag --{flag}")
    for mount in container.get("volumeMounts", []):
        volumes = {v["name"] for v in (deployment if container is server else job)["spec"]["template"]["spec"]["volumes"]}
        check(mount["name"] in volumes, f"{program} mounts undeclared volume {mount['name']}")
if problems:
    print("deploy/k8s/resnet8.yaml:\n  " + "\n  ".join(problems))
    sys.exit(1)
print(f"deploy/k8s/resnet8.yaml: valid ({', '.join(sorted(by_kind))}; flags checked against the programs)")
PY
