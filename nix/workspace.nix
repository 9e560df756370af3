# The uv2nix part of flake.nix: what is built from uv.lock, with which dependency
# groups, from which files. A function of nixpkgs' `lib` and uv2nix only (no
# `pkgs`), so tests/appliance/test_nix_workspace.py evaluates it with Debian's
# nix-instantiate against the offline copies of the inputs in ../shared/nix-inputs,
# exactly as the flake does.
{
  lib,
  uv2nix,
  # The repository root (the flake's `./.`).
  root,
}:
let
  workspace = uv2nix.lib.workspace.loadWorkspace { workspaceRoot = root; };
in
{
  inherit workspace;

  # Wheels where uv.lock has one for the platform, else the sdist.
  sourcePreference = "wheel";
  overlay = workspace.mkPyprojectOverlay { sourcePreference = "wheel"; };
  # The dev shell's editable install of src/; $REPO_ROOT is set by its shellHook.
  editableOverlay = workspace.mkEditablePyprojectOverlay { root = "$REPO_ROOT"; };

  # Which dependency groups each output installs. uv2nix's `deps.default` is
  # `[project.dependencies]` plus `tool.uv.default-groups`; pyproject.toml sets no
  # default-groups, so it is the runtime closure only.
  deps = {
    image = workspace.deps.default;
    # tests/unit/bench imports bench/, which needs the bench group (matplotlib).
    checks = {
      onex-host = [
        "dev"
        "bench"
      ];
    };
    # Every group, as `make venv` (uv sync --all-groups) installs them.
    devShell = workspace.deps.all;
  };

  # What the `nix flake check` derivations copy: the checks run from this tree alone
  # (tests/unit imports bench/ and reads deploy/services.yaml, the compose .env.example
  # and contracts/; ruff also covers ci/), and nothing else would rebuild them.
  checkFileset = lib.fileset.unions [
    (root + "/pyproject.toml")
    (root + "/uv.lock")
    (root + "/src")
    (root + "/tests")
    (root + "/bench")
    (root + "/ci")
    (root + "/contracts")
    (root + "/deploy/services.yaml")
    (root + "/deploy/compose/.env.example")
  ];

  # The dev shell's editable build of onex-host: hatchling reads pyproject.toml and
  # README.md, finds the package under src/ and force-includes contracts/.
  editableFileset =
    src:
    lib.fileset.unions [
      (src + "/pyproject.toml")
      (src + "/README.md")
      (src + "/src/onex_host/__init__.py")
      (src + "/contracts")
    ];
}
