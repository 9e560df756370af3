{
  description = "ONEX Runtime Host: the application, its OCI image, a dev shell and the quality gates, all from uv.lock";

  # Every input follows this one nixpkgs, so flake.lock pins a single nixpkgs and
  # nothing is evaluated twice. flake.lock is committed; `nix flake update`
  # refreshes every input (docs/appliance.md).
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

    pyproject-nix = {
      url = "github:pyproject-nix/pyproject.nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };

    uv2nix = {
      url = "github:pyproject-nix/uv2nix";
      inputs.pyproject-nix.follows = "pyproject-nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };

    pyproject-build-systems = {
      url = "github:pyproject-nix/build-system-pkgs";
      inputs.pyproject-nix.follows = "pyproject-nix";
      inputs.uv2nix.follows = "uv2nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      pyproject-nix,
      uv2nix,
      pyproject-build-systems,
      ...
    }:
    let
      inherit (nixpkgs) lib;
      forAllSystems = lib.genAttrs [
        "x86_64-linux"
        "aarch64-linux"
        "aarch64-darwin"
        "x86_64-darwin"
      ];

      project = (lib.importTOML ./pyproject.toml).project;
      imageSpec = import ./nix/image.nix;

      # The same lock `make venv` and the Dagger pipeline install from. Everything
      # uv2nix decides (the lock, the overlay, which groups each output gets, which
      # files the checks and the editable build see) is in nix/workspace.nix, which
      # tests/appliance evaluates offline with nix-instantiate.
      onex = import ./nix/workspace.nix {
        inherit lib uv2nix;
        root = ./.;
      };
      inherit (onex) overlay editableOverlay;

      pythonSets = forAllSystems (
        system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          baseSet = pkgs.callPackage pyproject-nix.build.packages { python = pkgs.python311; };
        in
        baseSet.overrideScope (
          lib.composeManyExtensions [
            pyproject-build-systems.overlays.default
            overlay
          ]
        )
      );

      # Runtime dependencies only: no dev, appliance or bench group in the image.
      runtimeEnv = system: pythonSets.${system}.mkVirtualEnv "onex-host-env" onex.deps.image;
      # The package plus the groups the checks import (dev: pytest, mypy, ruff; bench: matplotlib).
      checkEnv = system: pythonSets.${system}.mkVirtualEnv "onex-host-check-env" onex.deps.checks;

      # The sources the checks need, and nothing that would rebuild them needlessly.
      checkSource = lib.fileset.toSource {
        root = ./.;
        fileset = onex.checkFileset;
      };

      mkCheck =
        system: name: script:
        nixpkgs.legacyPackages.${system}.runCommand "onex-host-${name}"
          {
            nativeBuildInputs = [ (checkEnv system) ];
          }
          ''
            cp -r ${checkSource} source
            chmod -R u+w source
            cd source
            export HOME=$TMPDIR
            ${script}
            touch $out
          '';
    in
    {
      packages = forAllSystems (
        system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          venv = runtimeEnv system;

          contracts = pkgs.runCommand "onex-host-contracts" { } ''
            mkdir -p $out${imageSpec.contractsDir}
            cp -r ${./contracts}/. $out${imageSpec.contractsDir}/
          '';

          # /etc/passwd and /etc/group with the non-root user the image runs as.
          nss = pkgs.dockerTools.fakeNss.override {
            extraPasswdLines = [
              "${imageSpec.user}:x:${toString imageSpec.uid}:${toString imageSpec.gid}:ONEX runtime host:/var/empty:/bin/false"
            ];
            extraGroupLines = [ "${imageSpec.user}:x:${toString imageSpec.gid}:" ];
          };
        in
        {
          default = venv;
        }
        // lib.optionalAttrs pkgs.stdenv.isLinux {
          # `nix build .#image && docker load < result`
          image = pkgs.dockerTools.buildLayeredImage {
            inherit (imageSpec) name;
            tag = project.version;
            # An uncompressed archive: `docker load` and Dagger's Container.import read it as is.
            compressor = "none";
            # Only the virtualenv's closure (Python + runtime wheels), CA certificates,
            # the user database and the contracts.
            contents = [
              pkgs.cacert
              nss
              contracts
            ];
            extraCommands = ''
              mkdir -m 1777 tmp
            '';
            config = {
              User = "${toString imageSpec.uid}:${toString imageSpec.gid}";
              Entrypoint = [
                "${venv}/bin/onex-host"
                "run"
              ];
              Cmd = imageSpec.args;
              Env = [
                "ONEX_CONTRACT=${imageSpec.contract}"
                "PATH=${venv}/bin"
                "SSL_CERT_FILE=${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt"
                "PYTHONDONTWRITEBYTECODE=1"
                "PYTHONUNBUFFERED=1"
              ];
              ExposedPorts = lib.mapAttrs' (_: port: lib.nameValuePair "${toString port}/tcp" { }) imageSpec.ports;
              Labels = {
                "org.opencontainers.image.title" = project.name;
                "org.opencontainers.image.version" = project.version;
                "org.opencontainers.image.description" = project.description;
              };
            };
          };
        }
      );

      # `nix flake check`: each gate is its own derivation, so one failure names itself.
      checks = forAllSystems (system: {
        pytest-unit = mkCheck system "pytest-unit" "pytest tests/unit -q -p no:cacheprovider";
        mypy = mkCheck system "mypy" "mypy src";
        ruff = mkCheck system "ruff" "ruff check src tests ci bench && ruff format --check src tests ci bench";
      });

      devShells = forAllSystems (
        system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          # src/ is installed editable: edits are live without re-entering the shell.
          editableSet = pythonSets.${system}.overrideScope (
            lib.composeManyExtensions [
              editableOverlay
              (final: prev: {
                onex-host = prev.onex-host.overrideAttrs (old: {
                  src = lib.fileset.toSource {
                    root = old.src;
                    fileset = onex.editableFileset old.src;
                  };
                  nativeBuildInputs = old.nativeBuildInputs ++ final.resolveBuildSystem { editables = [ ]; };
                });
              })
            ]
          );
          # Every dependency group, as `make venv` installs them.
          venv = editableSet.mkVirtualEnv "onex-host-dev-env" onex.deps.devShell;
        in
        {
          default = pkgs.mkShell {
            packages = [
              venv
              pkgs.uv
            ];
            env = {
              UV_NO_SYNC = "1";
              UV_PYTHON = pkgs.python311.interpreter;
              UV_PYTHON_DOWNLOADS = "never";
            };
            shellHook = ''
              unset PYTHONPATH
              export REPO_ROOT=$(git rev-parse --show-toplevel)
            '';
          };
        }
      );
    };
}
