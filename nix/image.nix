# What the runtime image promises its runners, as plain data (no inputs, no
# nixpkgs), so `nix-instantiate --eval` can read it anywhere:
# tests/appliance/test_single_source.py compares it with deploy/services.yaml
# (image name, ports, arguments, contract path) and deploy/k8s (user id).
# The tag is pyproject.toml's version; flake.nix reads it from there.
{
  name = "ghcr.io/onex/onex-host";
  # Non-root; deploy/k8s runs the pod as the same uid/gid.
  uid = 10001;
  gid = 10001;
  user = "onex";
  ports = {
    health = 8080;
    metrics = 9090;
  };
  # Entrypoint is `onex-host run`; these default arguments follow it. Inside a
  # container the health/metrics listeners must leave loopback.
  args = [ "--bind" "0.0.0.0" ];
  # The bundled contracts are copied here; ONEX_CONTRACT names the production one.
  contractsDir = "/etc/onex/contracts";
  contract = "/etc/onex/contracts/runtime/infra_runtime_host.yaml";
}
