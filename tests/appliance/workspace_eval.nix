# nix/workspace.nix evaluated as flake.nix uses it, by Debian's nix-instantiate,
# against unpacked offline copies of the flake's inputs (../shared/nix-inputs):
# uv2nix's loadWorkspace parses uv.lock, its overlay resolves every package of
# each dependency selection, and the result is plain data for
# tests/appliance/test_nix_workspace.py.
#
# No nixpkgs here (only nixpkgs.lib), so the overlay is applied to a package set
# whose `python`, `stdenv` and fetchers are plain attribute sets: uv2nix's own
# resolution and wheel/sdist choice run for real, no derivation is instantiated.
{
  repository,
  nixpkgsLib,
  pyprojectNix,
  uv2nixSrc,
  system ? "x86_64-linux",
  # The interpreter the flake uses is nixpkgs' python311; its version is what the
  # wheels' tags are matched against.
  pythonVersion ? "3.11.14",
  glibcVersion ? "2.40",
}:
let
  # Nix before 2.14 (Debian bookworm ships 2.8) has no builtins.readFileType,
  # which lib.fileset uses; every file below is imported with it provided.
  builtins' = builtins // {
    readFileType = builtins.readFileType or (path: (builtins.readDir (dirOf path)).${baseNameOf path});
  };
  scope = {
    builtins = builtins';
    import = scopedImport scope;
  };
  import' = scopedImport scope;

  lib = import' (nixpkgsLib + "/lib");
  pyproject-nix = import' pyprojectNix { inherit lib; };
  uv2nix = import' uv2nixSrc { inherit lib pyproject-nix; };
  onex = import' (repository + "/nix/workspace.nix") {
    inherit lib uv2nix;
    root = repository;
  };

  platform = lib.systems.elaborate system;
  versionParts = lib.splitString "." pythonVersion;
  sourceVersion = {
    major = builtins.elemAt versionParts 0;
    minor = builtins.elemAt versionParts 1;
    patch = builtins.elemAt versionParts 2;
    suffix = "";
  };
  stdenv = {
    hostPlatform = platform;
    buildPlatform = platform;
    targetPlatform = platform;
    inherit (platform) isLinux isDarwin;
    cc.libc = {
      pname = "glibc";
      version = glibcVersion;
      linuxHeaders.version = "6.12";
    };
    # The attributes a derivation would be made of, nothing instantiated.
    mkDerivation = attrs: lib.fix (self: if builtins.isFunction attrs then attrs self else attrs);
  };
  python = {
    pname = "python3";
    version = pythonVersion;
    pythonVersion = "${sourceVersion.major}.${sourceVersion.minor}";
    implementation = "cpython";
    passthru = {
      implementation = "cpython";
      pythonVersion = "${sourceVersion.major}.${sourceVersion.minor}";
      inherit sourceVersion;
    };
    inherit stdenv;
  };
  builders = {
    inherit stdenv python;
    fetchurl = args: args // { passthru.url = args.url; };
    unzip = "unzip";
    autoPatchelfHook = "autoPatchelfHook";
    pythonManylinuxPackages = {
      manylinux1 = [ ];
      manylinux2010 = [ ];
      manylinux2014 = [ ];
    };
    pyprojectHook = "pyprojectHook";
    pyprojectWheelHook = "pyprojectWheelHook";
    pyprojectEditableHook = "pyprojectEditableHook";
    resolveBuildSystem = _: [ ];
  };
  prev = { inherit python stdenv; };
  final = prev // {
    callPackage = f: overrides: f ((builtins.intersectAttrs (builtins.functionArgs f) builders) // overrides);
  };
  packageSet = onex.overlay final prev;

  # What mkVirtualEnv installs for a dependency selection: the named packages,
  # their selected groups, and everything those depend on (with extras).
  closure =
    spec:
    let
      item = name: extras: {
        key = "${name}[${lib.concatStringsSep "," (lib.sort (a: b: a < b) extras)}]";
        inherit name extras;
      };
      requirements =
        package: extras: groups:
        let
          inherit (packageSet.${package}.passthru) dependencies optional-dependencies dependency-groups;
          selected =
            [ dependencies ]
            ++ map (extra: optional-dependencies.${extra} or { }) extras
            ++ map (group: dependency-groups.${group}) groups;
        in
        lib.concatMap (lib.mapAttrsToList item) selected;
      roots = lib.concatLists (lib.mapAttrsToList (name: groups: requirements name [ ] groups) spec);
      walked = builtins.genericClosure {
        startSet = map (name: item name [ ]) (builtins.attrNames spec) ++ roots;
        operator = entry: requirements entry.name entry.extras [ ];
      };
    in
    lib.sort (a: b: a < b) (lib.unique (map (entry: entry.name) walked));
in
{
  deps = onex.deps;
  closures = lib.mapAttrs (_: closure) onex.deps;
  packages = lib.mapAttrs (_: drv: {
    inherit (drv) version;
    format = drv.passthru.format or "local";
    url = drv.src.url or null;
  }) packageSet;
  sourcePreference = onex.sourcePreference;
  checkFiles = map toString (lib.fileset.toList onex.checkFileset);
  editableFiles = map toString (lib.fileset.toList (onex.editableFileset repository));
}
